import winston from "winston";
import type { Config } from "./config.js";

/** JSON lines by default (one object per line on stdout), or plain text. */
export function createLogger(config: Pick<Config, "logLevel" | "logFormat">): winston.Logger {
  const format =
    config.logFormat === "json"
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const extra = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : "";
            return `${String(timestamp)} ${level.toUpperCase()} ${String(message)}${extra}`;
          }),
        );
  return winston.createLogger({ level: config.logLevel, format, transports: [new winston.transports.Console()] });
}
