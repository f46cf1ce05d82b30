import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { spawnTracked } from './processes.js';

export type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the admin CLI (`src/cli/admin.ts <args>`) as a real process. */
export function runAdmin(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawnTracked('src/cli/admin.ts', args, env);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A successful --json command: exit 0, nothing on stderr, exactly one line of JSON on stdout. */
export function json(result: Run): any {
  expect(result.stderr, `stderr of a successful command`).toBe('');
  expect(result.code, result.stdout).toBe(0);
  expect(result.stdout.endsWith('\n')).toBe(true);
  expect(result.stdout.trimEnd().includes('\n'), 'one line of JSON').toBe(false);
  return JSON.parse(result.stdout);
}

/** A refused --json command: non-zero exit, nothing on stdout, one JSON error on stderr; answers its message. */
export function refused(result: Run, exitCode: number, code: string): string {
  expect(result.code, result.stderr).toBe(exitCode);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  const body = JSON.parse(lines[0]!);
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  return body.error.message;
}

/** A key's fingerprint as the docs define it (the start of its SHA-256), computed independently of src/. */
export const fingerprintOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);
