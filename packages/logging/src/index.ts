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
  return winston.createLogger({ level: settings.logLevel, format, transports: [new winston.transports.Console()] });
}
