import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { poolSql, Sql } from '../database/sql.js';

/** Something that keeps capture from being what it should be: a table's trigger gone, the event triggers missing. */
export interface CaptureProblem {
  /** The table (as notifications name it); null: the whole database. */
  table: string | null;
  problem: string;
}

/**
 * Notices capture switched off behind rowcast's back — a trigger dropped or disabled by hand, a
 * restored dump without them, the event triggers that follow schema changes missing — at start
 * and every CAPTURE_CHECK_INTERVAL_MS (capture.drift()). /health reports the problems, /metrics
 * counts them, and each change of the state is logged once. `npm run capture -- enable <table>`
 * re-arms a table.
 */
@Injectable()
export class CaptureWatch implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CaptureWatch.name);
  private readonly sql: Sql;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  /** The last check's problems; undefined until one has answered. */
  private latest: CaptureProblem[] | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.sql = poolSql(dataSource);
  }

  onApplicationBootstrap(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.config.capture.checkIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
  }

  /** What the last check found (empty until the first one answers, and while all is well). */
  get problems(): readonly CaptureProblem[] {
    return this.latest ?? [];
  }

  /** Checks now (one check at a time); a failed read keeps the last answer. */
  check(): Promise<void> {
    this.checking ??= this.read()
      .then((problems) => this.update(problems))
      .catch((error: unknown) => this.logger.warn(`could not check the capture triggers: ${String(error)}`))
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async read(): Promise<CaptureProblem[]> {
    const rows = await this.sql<{ table_name: string | null; problem: string }>(`SELECT table_name, problem FROM capture.drift()`);
    return rows.map((row) => ({ table: row.table_name, problem: row.problem }));
  }

  private update(problems: CaptureProblem[]): void {
    const describe = (list: readonly CaptureProblem[]) => list.map((p) => (p.table ? `${p.table}: ${p.problem}` : p.problem)).join('; ');
    const before = describe(this.latest ?? []);
    const now = describe(problems);
    this.latest = problems;
    if (now === before) return;
    if (problems.length) {
      const rearm = problems.some((p) => p.table) ? ' (re-arm a table with npm run capture -- enable <table>)' : '';
      this.logger.warn(`capture is not what it should be: ${now}${rearm}`);
    } else if (before) {
      this.logger.log('capture is armed again on every captured table');
    }
  }
}
