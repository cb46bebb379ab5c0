import { timingSafeEqual, createHash } from "node:crypto";
import { readFileSync, watchFile, unwatchFile } from "node:fs";
import type { RequestHandler } from "express";
import { ApiError, EXECUTOR_TOKEN_HEADER, type Logger } from "@org/task-core";

/**
 * Bearer tokens from a file (one per line, `#` comments), reloaded when the file changes. Tokens are compared
 * as SHA-256 digests with timingSafeEqual, so neither content nor length leaks through timing.
 */
export class TokenFile {
  private digests: Buffer[] = [];

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {
    this.reload(true);
    watchFile(path, { interval: 1000 }, () => this.reload(false));
  }

  get count(): number {
    return this.digests.length;
  }

  accepts(token: string): boolean {
    const digest = createHash("sha256").update(token).digest();
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(known, digest) || match;
    return match;
  }

  close(): void {
    unwatchFile(this.path);
  }

  private reload(initial: boolean): void {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if (initial) throw new Error(`cannot read --auth-token-file ${this.path}: ${(error as Error).message}`);
      this.logger.error("cannot reload the auth token file; keeping the previous tokens", { path: this.path, error: String(error) });
      return;
    }
    const tokens = text.split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
    if (tokens.length === 0) {
      if (initial) throw new Error(`--auth-token-file ${this.path} holds no token`);
      this.logger.error("the auth token file holds no token; keeping the previous tokens", { path: this.path });
      return;
    }
    this.digests = tokens.map((token) => createHash("sha256").update(token).digest());
    if (!initial) this.logger.info("auth tokens reloaded", { path: this.path, tokens: tokens.length });
  }
}

/** Node lower-cases the names of incoming headers. */
const TOKEN_HEADER = EXECUTOR_TOKEN_HEADER.toLowerCase();

/**
 * Requires a token of the file on every request but those to the public paths (`/health`, `/ready`, ...), as
 * `Authorization: Bearer <token>` or as `X-Executor-Token: <token>`; either one that matches is enough. Both are
 * compared in constant time (see {@link TokenFile.accepts}).
 */
export function requireToken(tokens: TokenFile, publicPaths: string[]): RequestHandler {
  const open = new Set(publicPaths);
  return (request, _response, next) => {
    if (open.has(request.path)) return next();
    const header = request.headers.authorization ?? "";
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const raw = request.headers[TOKEN_HEADER];
    const direct = (Array.isArray(raw) ? raw[0] : raw)?.trim() || undefined;
    // Both are checked (no short cut), so the time taken does not tell which one matched.
    const bearerOk = bearer !== undefined && tokens.accepts(bearer);
    const directOk = direct !== undefined && tokens.accepts(direct);
    if (bearerOk || directOk) return next();
    if (bearer === undefined && direct === undefined) {
      next(new ApiError("Unauthorized", "missing token: send 'Authorization: Bearer <token>' or 'X-Executor-Token: <token>'"));
      return;
    }
    next(new ApiError("Unauthorized", direct !== undefined && bearer === undefined ? "invalid X-Executor-Token" : "invalid bearer token"));
  };
}
