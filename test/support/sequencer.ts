import { readFileSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The suites that start gateways and CLIs as processes (test/support/processes.ts) spend most of
// their minute waiting on them: started first, their waits overlap the other files. Vitest's own
// order (the longest by the last run's timings, else the largest file) comes next.

const startsProcesses = (spec: TestSpecification) =>
  readFileSync(spec.moduleId, 'utf8').includes("from './support/processes.js'");

export default class ProcessSuitesFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter(startsProcesses), ...sorted.filter((spec) => !startsProcesses(spec))];
  }
}
