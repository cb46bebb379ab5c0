/** @org/logging — the logger of the executor and the controller (winston; it satisfies task-core's Logger). */
import winston from "winston";

export interface LoggerSettings {
  logLevel: "error" | "warn" | "info" | "debug";
  logFormat: "json" | "text";
}

/** JSON lines by default (one object per line on stdout), or plain text. */
export function createLogger(settings: LoggerSettings): winston.Logger {
  const format =
    settings.logFormat === "json"
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const extra = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : "";
            return `${String(timestamp)} ${level.toUpperCase()} ${String(message)}${extra}`;
          }),
        );
  const logger = winston.createLogger({ level: settings.logLevel, format, transports: [new winston.transports.Console()] });
  skipDisabledLevels(logger);
  return logger;
}

/**
 * winston formats every line (a timestamp, a JSON serialisation) and passes it through its streams before the
 * transport drops a line below the level, so a debug line per request costs as much at level warn as when it is
 * written. The level methods check the level first (the logger's current one, so a later change still counts).
 */
function skipDisabledLevels(logger: winston.Logger): void {
  for (const level of ["error", "warn", "info", "debug"] as const) {
    const write = logger[level];
    // `this`, not `logger`: a child logger (which inherits these methods) keeps its own metadata.
    logger[level] = function (this: winston.Logger, ...args: Parameters<winston.LeveledLogMethod>) {
      return this.isLevelEnabled(level) ? write.apply(this, args) : this;
    } as winston.LeveledLogMethod;
  }
}
