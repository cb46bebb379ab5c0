import { CronExpressionParser } from "cron-parser";

const ALIASES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

/**
 * Why `schedule` in `timeZone` is not a valid TaskSchedule schedule, or undefined when it is. Schedules are
 * cron expressions of 5 fields as in Kubernetes CronJobs (minute hour day-of-month month day-of-week), or of
 * 6 fields with a leading seconds field for sub-minute schedules, or one of `@hourly`, `@daily`, ....
 */
export function scheduleProblem(schedule: string, timeZone = "UTC"): string | undefined {
  const trimmed = schedule.trim();
  const fields = trimmed.split(/\s+/).length;
  if (!ALIASES.has(trimmed) && fields !== 5 && fields !== 6) {
    return `schedule must have 5 fields (minute hour day month weekday) or 6 with leading seconds, got ${fields}`;
  }
  if (!isTimeZone(timeZone)) return `timeZone '${timeZone}' is not an IANA time zone`;
  try {
    CronExpressionParser.parse(trimmed, { tz: timeZone, currentDate: new Date(0) }).next();
    return undefined;
  } catch (error) {
    return `schedule '${schedule}' is not a valid cron expression: ${(error as Error).message}`;
  }
}

export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The latest scheduled time at or before `nowMs` (undefined when there is none), in ms. */
export function previousScheduleTime(schedule: string, timeZone: string, nowMs: number): number | undefined {
  try {
    // The iterator excludes its start, so start just after now to include a time equal to now.
    return CronExpressionParser.parse(schedule.trim(), { tz: timeZone, currentDate: new Date(nowMs + 1) }).prev().getTime();
  } catch {
    return undefined;
  }
}

/** The first scheduled time strictly after `afterMs`, in ms. */
export function nextScheduleTime(schedule: string, timeZone: string, afterMs: number): number | undefined {
  try {
    return CronExpressionParser.parse(schedule.trim(), { tz: timeZone, currentDate: new Date(afterMs) }).next().getTime();
  } catch {
    return undefined;
  }
}
