import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

/** Runs dependency-cruiser's command line as `npm run check` does, and reads its JSON report. */

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const BIN = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

/** What `npm run check` cruises (its depcruise command, which a test holds to this list). */
export const CHECKED = ['src', 'test', 'bench', 'scripts', 'web', 'packages'];
export const CHECK_COMMAND = `depcruise --config .dependency-cruiser.cjs ${CHECKED.join(' ')}`;

export interface Violation {
  rule: string;
  from: string;
  to: string;
  cycle?: string[];
}

export interface Report {
  violations: Violation[];
  modules: {
    source: string;
    dependencies: { module: string; resolved: string; dependencyTypes: string[] }[];
  }[];
  cruised: number;
  milliseconds: number;
}

interface RawReport {
  modules: Report['modules'];
  summary: {
    totalCruised: number;
    violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[];
  };
}

/** `depcruise --config <config> -T json <targets>` in `cwd`, whose tsconfig.json and package.json it reads. */
export function depcruise(cwd: string, targets: string[], config = CONFIG): Promise<Report> {
  const started = performance.now();
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [BIN, '--config', config, '--output-type', 'json', ...targets],
      { cwd, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // The exit code is the number of errors: a report with violations is not a failure to run.
        let raw: RawReport;
        try {
          raw = JSON.parse(stdout) as RawReport;
        } catch {
          fail(new Error(`depcruise did not report (${error?.message ?? 'no output'}):\n${stderr}`));
          return;
        }
        done({
          violations: raw.summary.violations.map(({ rule, from, to, cycle }) => ({
            rule: rule.name,
            from,
            to,
            ...(cycle ? { cycle: cycle.map(({ name }) => name) } : {}),
          })),
          modules: raw.modules,
          cruised: raw.summary.totalCruised,
          milliseconds: performance.now() - started,
        });
      },
    );
  });
}

/** One line per violation, as the check prints them: `rule: from → to`. */
export function lines(violations: Violation[]): string[] {
  return violations.map(({ rule, from, to }) => `${rule}: ${from} → ${to}`).sort();
}
