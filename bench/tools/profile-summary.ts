// Summarizes a .cpuprofile: npx tsx bench/tools/profile-summary.ts <file> [fromUs toUs] [top]
import { formatProfileSummary, summarizeProfile } from '../lib/profile.js';

const [file, from, to, top] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/tools/profile-summary.ts <file.cpuprofile> [fromUs toUs] [top]');
  process.exit(2);
}
const window = from && to ? { fromUs: Number(from), toUs: Number(to) } : undefined;
console.log(formatProfileSummary(summarizeProfile(file, window, top ? Number(top) : 15)));
