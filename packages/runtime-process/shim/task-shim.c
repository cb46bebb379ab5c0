/*
 * task-shim: launcher and per-task keeper of the process runtime.
 * The binding specification is docs/task-shim.md; this comment only sketches the shape.
 *
 *   task-shim launcher
 *     Reads START requests (netstrings) from stdin and forks one keeper per request. The launcher does no
 *     file I/O of its own for a task, so a slow disk or a slow keeper never delays the next request.
 *   keeper (the forked launcher, never re-executed)
 *     setsid(), forks the task into its own process group, owns the task directory through the `pid`
 *     file, copies the task's stdout/stderr into CRI log files, enforces timeout and stop, and writes
 *     the `exit` file. It depends on nothing but the task directory, so it outlives the executor.
 *
 * Events go to the launcher's stdout, which every keeper inherits: each line is one write() below
 * PIPE_BUF, so lines from different processes never interleave.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHIM_VERSION "1"
#define READ_CHUNK (1 << 20)          /* one read() from a task pipe */
#define PIPE_BIG (1 << 20)            /* a task pipe's size once its writer has filled the default one */
#define RECORD_TEXT_MAX 65536         /* longer lines are cut into P records */
#define OUT_CAP (1 << 20)             /* pending records of one stream; a record never exceeds it */
#define RECORD_HDR_MAX 48             /* "<30-char time> stdout P " plus the trailing newline */
#define DRAIN_MS 2000                 /* pipe draining after the task's main process exited */
#define REQ_BUF_MIN 65536
#define MAX_FIELD (64u << 20)
#define MAX_COUNT 1000000u
#define EXIT_RETRY_MAX_S 5u           /* longest pause between attempts to write the exit record */
#define STOP_FILE "stop"              /* written by the executor before it sends SIGTERM: the stop's grace */

extern char **environ;

/* ------------------------------------------------------------------ small helpers */

static int write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One event line in a single write. A reader that went away (EPIPE, SIGPIPE is ignored) is not an
 * error: the files in the task directory are the record that counts. */
static void emit(const char *fmt, ...) {
    char line[PIPE_BUF];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)       /* messages may quote paths; keep the event one line */
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[n++] = '\n';
    (void)write_all(STDOUT_FILENO, line, (size_t)n);
}

static int64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void) { return clock_ns(CLOCK_MONOTONIC) / 1000000; }

/* RFC 3339 UTC with 9 (log records) or 3 (pid and exit records) fraction digits. gmtime_r runs once
 * per second at most: log records are formatted at high rates. */
static void fmt_time(char out[40], int64_t ns, int digits) {
    static time_t cached_sec = (time_t)-1;
    static char prefix[24];
    time_t sec = (time_t)(ns / 1000000000);
    if (sec != cached_sec) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    long frac = (long)(ns % 1000000000);
    if (digits == 3) snprintf(out, 40, "%s.%03ldZ", prefix, frac / 1000000);
    else snprintf(out, 40, "%s.%09ldZ", prefix, frac);
}

/* Growable byte buffer, used to build JSON files. */
struct buf { char *p; size_t n, cap; };

static void buf_add(struct buf *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { fputs("task-shim: out of memory\n", stderr); _exit(70); }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void buf_fmt(struct buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslash and control characters escaped. */
static void buf_json(struct buf *b, const char *s) {
    buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; buf_add(b, e, 2); }
        else if (c < 0x20) buf_fmt(b, "\\u%04x", c);
        else buf_add(b, s, 1);
    }
    buf_add(b, "\"", 1);
}

/* Makes the pid file: written under a temporary name and link()ed into place (fails with EEXIST if `pid`
 * exists: exactly one keeper owns a task directory), then the directory is fsynced, so that the name survives
 * a power cut (a pid file lost to one would let the task start a second time). The file's content is not
 * fsynced: what must survive a power cut is that it exists, and one that comes back empty or cut is
 * unreadable, which a restart takes as a task that ran (Lost), never one to start again. A pid file whose
 * directory cannot be synced is taken away again. On success *fd is the pid file opened again by its own
 * name, for the exit record (a change made through the temporary name's descriptor would reach a watcher of
 * the directory under that name). Returns 0 or an errno value. */
static int own_pid_file(int dirfd, const char *tmp, const struct buf *b, int *fd_out) {
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    int err = 0;
    if (write_all(fd, b->p, b->n) < 0) err = errno;
    if (close(fd) < 0 && !err && errno != EINTR) err = errno;
    if (!err && linkat(dirfd, tmp, dirfd, "pid", 0) < 0) err = errno;
    unlinkat(dirfd, tmp, 0);
    if (err) return err;
    fd = openat(dirfd, "pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || fsync(dirfd) < 0) {
        err = errno;
        if (fd >= 0) close(fd);
        unlinkat(dirfd, "pid", 0);
        return err;
    }
    *fd_out = fd;
    return 0;
}

/* Appends the exit record to the pid file as its second line, at `at` (the pid line's length, so a retry after
 * a failed attempt writes the same bytes over what that one left), and fdatasyncs it: one flush, and no new
 * file or directory entry, makes the outcome durable. A reader takes the line only once it ends with its
 * newline, so a record cut by a power cut reads as none. Returns 0 or an errno value. */
static int append_exit(int fd, off_t at, const struct buf *b) {
    size_t done = 0;
    while (done < b->n) {
        ssize_t w = pwrite(fd, b->p + done, b->n - done, at + (off_t)done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        done += (size_t)w;
    }
    return fdatasync(fd) < 0 ? errno : 0;
}

/* Marks every fd from 3 up close-on-exec (fds we did not open ourselves included). */
static void cloexec_from3(void) {
    if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
    struct rlimit rl;
    int max = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) ? (int)rl.rlim_cur : 65536;
    for (int fd = 3; fd < max; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
}

/* ------------------------------------------------------------------ requests */

struct field { char *p; size_t n; };

struct request {
    struct field *f;
    size_t nf, fcap;
    /* Set by check_request(); the strings point into the launcher's read buffer. */
    const char *run_id, *task_dir, *work_dir;
    int64_t timeout_ms, grace_ms, max_log;
    size_t argc, argv_at, envc, env_at, cgc, cg_at;
};

/* One netstring at *pos: 1 = parsed, 0 = incomplete, -1 = malformed. */
static int next_field(char *b, size_t len, size_t *pos, struct field *out) {
    size_t i = *pos, n = 0, digits = 0;
    while (i < len && b[i] >= '0' && b[i] <= '9') {
        if (++digits > 9) return -1;
        n = n * 10 + (size_t)(b[i++] - '0');
    }
    if (i == len) return 0;
    if (digits == 0 || b[i] != ':' || n > MAX_FIELD) return -1;
    i++;
    if (len - i < n + 1) return 0;
    if (b[i + n] != ',') return -1;
    out->p = b + i;
    out->n = n;
    *pos = i + n + 1;
    return 1;
}

static bool parse_num(const struct field *f, int64_t *out) {
    if (f->n == 0 || f->n > 15) return false;
    int64_t v = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->p[i] < '0' || f->p[i] > '9') return false;
        v = v * 10 + (f->p[i] - '0');
    }
    *out = v;
    return true;
}

/* Splits one complete request off the front of the buffer: 1 = complete (*used bytes), 0 = more
 * input needed, -1 = the stream cannot be framed any more. The field count depends on the argc,
 * envc and cgroupc fields, so they are read while scanning. */
static int parse_request(char *b, size_t len, struct request *rq, size_t *used) {
    size_t pos = 0, expected = 8;
    int counts_seen = 0;
    rq->nf = 0;
    while (rq->nf < expected) {
        struct field f;
        int r = next_field(b, len, &pos, &f);
        if (r <= 0) return r;
        if (rq->nf == rq->fcap) {
            size_t cap = rq->fcap ? rq->fcap * 2 : 64;
            struct field *nf = realloc(rq->f, cap * sizeof *nf);
            if (!nf) return -1;
            rq->f = nf;
            rq->fcap = cap;
        }
        rq->f[rq->nf++] = f;
        if (rq->nf == 1 && !(f.n == 5 && memcmp(f.p, "START", 5) == 0)) return -1; /* unknown verb */
        if (rq->nf == expected && counts_seen < 3) {                        /* argc, envc, cgroupc */
            int64_t c;
            if (!parse_num(&f, &c) || c > (int64_t)MAX_COUNT) return -1;
            expected += (size_t)c + (counts_seen < 2 ? 1 : 0);
            counts_seen++;
        }
    }
    *used = pos;
    return 1;
}

/* Validates a framed request and NUL-terminates its fields in place (over the netstring commas).
 * Returns an error message, or NULL; run_id stays NULL when the runId itself is unusable. */
static const char *check_request(struct request *rq) {
    struct field *f = rq->f;
    bool has_nul = false;
    rq->run_id = NULL;
    for (size_t i = 0; i < rq->nf; i++) {
        has_nul = has_nul || memchr(f[i].p, '\0', f[i].n) != NULL;
        f[i].p[f[i].n] = '\0';
    }
    if (f[1].n == 0 || f[1].n > 64 || strspn(f[1].p,
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != f[1].n)
        return "invalid runId";
    rq->run_id = f[1].p;
    if (has_nul) return "field contains NUL";
    rq->task_dir = f[2].p;
    rq->work_dir = f[3].p;
    if (rq->task_dir[0] != '/') return "taskDir is not an absolute path";
    int64_t argc = 0, envc = 0, cgc = 0;
    if (!parse_num(&f[4], &rq->timeout_ms) || !parse_num(&f[5], &rq->grace_ms) ||
        !parse_num(&f[6], &rq->max_log)) return "invalid number";
    parse_num(&f[7], &argc);                      /* the three counts were checked by the framing */
    if (argc < 1) return "argc must be at least 1";
    parse_num(&f[8 + argc], &envc);
    parse_num(&f[9 + argc + envc], &cgc);
    rq->argc = (size_t)argc; rq->argv_at = 8;
    rq->envc = (size_t)envc; rq->env_at = 9 + (size_t)argc;
    rq->cgc = (size_t)cgc;   rq->cg_at = 10 + (size_t)argc + (size_t)envc;
    return NULL;
}

/* A NULL-terminated vector of n fields from index `at` (built in the keeper, off the launcher's path). */
static char **field_vec(const struct request *rq, size_t at, size_t n) {
    char **v = calloc(n + 1, sizeof *v);
    if (!v) { fputs("task-shim: out of memory\n", stderr); _exit(70); }
    for (size_t i = 0; i < n; i++) v[i] = rq->f[at + i].p;
    return v;
}

/* ------------------------------------------------------------------ keeper: logs */

struct stream {
    const char *name, *file, *old_file;   /* "stdout", "stdout.log", "stdout.log.1" */
    int pipe, log;                        /* pipe = -1 once it reached EOF; log = -1 until the first record */
    bool opened;                          /* the log file is open (else the next chunk tries again) */
    int64_t size;                         /* bytes in the current log file */
    bool has_old;                         /* the .1 file exists */
    bool big_pipe;                        /* F_SETPIPE_SZ was asked for */
    char *out;                            /* records not yet written */
    size_t n;
};

static struct {
    int dirfd;
    int64_t max_file;      /* per log file; 0 = unlimited */
    size_t piece;          /* longest record text, so that one record fits into a log file */
    int64_t last_ts;       /* log timestamps strictly increase across both streams */
    bool marked_truncated;
} K;

static void flush_stream(struct stream *s) {
    if (s->n == 0) return;
    if (s->log >= 0) (void)write_all(s->log, s->out, s->n);   /* a full disk must not stop draining */
    s->size += (int64_t)s->n;
    s->n = 0;
}

static void rotate(struct stream *s) {
    if (s->has_old && !K.marked_truncated) {      /* the old .1 is about to be lost: say so */
        int fd = openat(K.dirfd, "log-truncated", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
        K.marked_truncated = true;
    }
    if (renameat(K.dirfd, s->file, K.dirfd, s->old_file) < 0) return;   /* keep appending instead */
    s->has_old = true;
    if (s->log >= 0) close(s->log);
    s->log = openat(K.dirfd, s->file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    s->size = 0;
}

/* The header "<time> <stream> <tag> " of the record being written. The records of one chunk take
 * consecutive nanoseconds from one clock read (timestamps strictly increase across both streams), so
 * from one record to the next only the last digits of the fraction change: they are counted up in
 * place instead of formatting the time again, which at millions of lines a second is the keeper's cost. */
static struct { char text[64]; size_t len; int64_t ns; const struct stream *of; } H = {.ns = -1};

#define FRACTION_AT 20   /* "YYYY-MM-DDTHH:MM:SS." */

static bool count_up_fraction(void) {
    for (int i = FRACTION_AT + 8; i >= FRACTION_AT; i--) {
        if (H.text[i] != '9') { H.text[i]++; return true; }
        H.text[i] = '0';
    }
    return false;                     /* the second changes: format it whole */
}

static void next_header(const struct stream *s, char tag) {
    int64_t ns = ++K.last_ts;
    if (!(H.of == s && ns == H.ns + 1 && count_up_fraction())) {
        fmt_time(H.text, ns, 9);
        size_t t = strlen(H.text);
        H.len = t + (size_t)snprintf(H.text + t, sizeof H.text - t, " %s %c ", s->name, tag);
        H.of = s;
    }
    H.ns = ns;
    H.text[H.len - 2] = tag;
}

static void put_record(struct stream *s, char tag, const char *text, size_t n) {
    next_header(s, tag);
    size_t h = H.len;
    int64_t len = (int64_t)(h + n + 1);
    if (K.max_file > 0 && s->size + (int64_t)s->n > 0 && s->size + (int64_t)s->n + len > K.max_file) {
        flush_stream(s);
        rotate(s);
    }
    if (s->n + (size_t)len > OUT_CAP) flush_stream(s);
    memcpy(s->out + s->n, H.text, h);
    memcpy(s->out + s->n + h, text, n);
    s->out[s->n + h + n] = '\n';
    s->n += (size_t)len;
}

/* One chunk read from a pipe: complete lines become F records, a trailing part a P record, and
 * lines longer than K.piece are cut into P records. Nothing is held back. */
static void open_log(struct stream *s);

static void log_chunk(struct stream *s, const char *p, size_t n) {
    if (!s->opened) open_log(s);
    int64_t now = clock_ns(CLOCK_REALTIME);
    if (now > K.last_ts + 1) K.last_ts = now - 1;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t line = nl ? (size_t)(nl - p) : n;
        while (line > K.piece) {
            put_record(s, 'P', p, K.piece);
            p += K.piece; n -= K.piece; line -= K.piece;
        }
        put_record(s, nl ? 'F' : 'P', p, line);
        size_t step = line + (nl ? 1 : 0);
        p += step, n -= step;
    }
    flush_stream(s);
}

static void pump(struct stream *s, char *chunk) {
    ssize_t r = read(s->pipe, chunk, READ_CHUNK);
    if (r > 0) {
        /* A writer that filled the pipe gets a larger one: fewer wake-ups and reads per byte. Quiet
         * tasks keep the default, and a refusal (limits of an unprivileged user) changes nothing. */
        if (!s->big_pipe && r >= 65536) {
            (void)fcntl(s->pipe, F_SETPIPE_SZ, PIPE_BIG);
            s->big_pipe = true;
        }
        log_chunk(s, chunk, (size_t)r);
        return;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    close(s->pipe);
    s->pipe = -1;
}

/* ------------------------------------------------------------------ keeper: task */

enum { STAGE_SETUP = 1, STAGE_CGROUP, STAGE_CHDIR, STAGE_EXEC };
struct start_error { int stage, err, index; };

/* The task child, between fork and exec. It first waits for the keeper's "go" (sent once the pid
 * file is in place), so the program never runs unless this keeper owns the task directory. Failures
 * go to the keeper through the close-on-exec error pipe. */
static _Noreturn void task_child(const struct request *rq, char **argv, char **envp,
                                 int go_r, int out_w, int err_w, int errpipe) {
    struct start_error se = {STAGE_SETUP, 0, 0};
    char c;
    ssize_t r;
    setpgid(0, 0);
    do r = read(go_r, &c, 1); while (r < 0 && errno == EINTR);
    if (r != 1) _exit(127);                            /* the keeper gave up: run nothing */

    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(out_w, STDOUT_FILENO) < 0 || dup2(err_w, STDERR_FILENO) < 0) goto fail;
    cloexec_from3();                                   /* the task inherits fds 0, 1 and 2 only */

    se.stage = STAGE_CGROUP;
    char pid[24];
    int pn = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    for (size_t i = 0; i < rq->cgc; i++) {
        se.index = (int)i;
        int fd = open(rq->f[rq->cg_at + i].p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) goto fail;
        int w = write_all(fd, pid, (size_t)pn), e = errno;
        close(fd);
        if (w < 0) { errno = e; goto fail; }
    }
    se.stage = STAGE_CHDIR;
    if (rq->work_dir[0] && chdir(rq->work_dir) < 0) goto fail;
    se.stage = STAGE_EXEC;
    environ = envp;                                    /* execvp searches the task's own PATH */
    execvp(argv[0], argv);
fail:
    se.err = errno;
    (void)write_all(errpipe, &se, sizeof se);
    _exit(127);
}

static _Noreturn void keeper_fail(const char *run_id, const char *what, int err) {
    emit("FAILED %s %s: %s", run_id, what, strerror(err));
    _exit(1);
}

static void init_stream(struct stream *s, const char *run_id) {
    s->pipe = -1;
    s->log = -1;
    s->out = malloc(OUT_CAP);
    if (!s->out) keeper_fail(run_id, "cannot allocate", ENOMEM);
}

/* The log file is created with the stream's first output: a task that writes nothing to a stream costs no file
 * (most short tasks write to one stream at most, and each new file is an inode to allocate and a directory entry
 * to write). While it cannot be created (a full disk) the stream's output is dropped, as a failed write is, and
 * the next chunk tries again. */
static void open_log(struct stream *s) {
    s->log = openat(K.dirfd, s->file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->log < 0) return;
    s->opened = true;
    struct stat st;
    s->size = fstat(s->log, &st) == 0 ? st.st_size : 0;
    s->has_old = faccessat(K.dirfd, s->old_file, F_OK, 0) == 0;
}

/* The grace period of the stop being asked for: the decimal milliseconds in the task directory's `stop`
 * file (put in place whole by a rename before the SIGTERM), else `fallback`. */
static int64_t stop_grace_ms(int64_t fallback) {
    int fd = openat(K.dirfd, STOP_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fallback;
    char text[32];
    ssize_t n;
    do n = read(fd, text, sizeof text - 1); while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return fallback;
    int64_t v = 0;
    ssize_t i = 0;
    for (; i < n && text[i] >= '0' && text[i] <= '9' && i < 15; i++) v = v * 10 + (text[i] - '0');
    if (i == 0 || (i < n && text[i] != '\n')) return fallback;
    return v;
}

/* This process's start time in clock ticks since boot (field 22 of /proc/self/stat, after the parenthesised
 * command name), which the executor keeps to tell this keeper apart from a later process that reuses its pid;
 * "-" when it cannot be read (the executor then reads it itself). Sent with STARTED, so the executor's start
 * costs no /proc reads. */
static void self_start_ticks(char out[32]) {
    strcpy(out, "-");
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char text[1024];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return;
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (!p) return;
    p += 2;                            /* ") " then field 3 */
    for (int field = 3; field < 22 && *p; field++) {
        p = strchr(p, ' ');
        if (!p) return;
        p++;
    }
    size_t len = strcspn(p, " ");
    if (len == 0 || len > 30) return;
    memcpy(out, p, len);
    out[len] = '\0';
}

static _Noreturn void keeper(const struct request *rq) {
    const char *id = rq->run_id;
    setsid();                          /* signals aimed at the executor's or launcher's group miss us */

    /* The launcher forked with all signals blocked; set dispositions before unblocking any. */
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGXFSZ, &sa, NULL);     /* a file size limit fails the write (EFBIG, retried), never the keeper */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);     /* drop the launcher's reaper: we wait for the task ourselves */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) keeper_fail(id, "signalfd", errno);

    /* Let go of the request pipe: the executor must see EPIPE once the launcher is gone. */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0) keeper_fail(id, "cannot open /dev/null", errno);
    close(devnull);

    K.dirfd = open(rq->task_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (K.dirfd < 0) keeper_fail(id, "cannot open task directory", errno);
    K.max_file = rq->max_log / 4;
    K.piece = RECORD_TEXT_MAX;
    if (K.max_file > 0) {
        int64_t room = K.max_file > 2 * RECORD_HDR_MAX ? K.max_file - RECORD_HDR_MAX : RECORD_HDR_MAX;
        if (room < (int64_t)K.piece) K.piece = (size_t)room;
    }
    /* O_APPEND without O_TRUNC: a keeper that turns out to be superseded must not touch the owner's logs. */
    struct stream out = {.name = "stdout", .file = "stdout.log", .old_file = "stdout.log.1"};
    struct stream err = {.name = "stderr", .file = "stderr.log", .old_file = "stderr.log.1"};
    init_stream(&out, id);
    init_stream(&err, id);
#ifdef SHIM_TEST_START_GATE
    /* Test builds only (never in dist/task-shim): a keeper stuck before it owns the task, as on a hung file
     * system. Opening the FIFO `start-gate` for writing blocks until someone opens it for reading. */
    { int gate = openat(K.dirfd, "start-gate", O_WRONLY | O_CLOEXEC); if (gate >= 0) close(gate); }
#endif

    int po[2], pe[2], pgo[2], perr[2];
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(pgo, O_CLOEXEC) < 0 ||
        pipe2(perr, O_CLOEXEC) < 0)
        keeper_fail(id, "cannot create pipes", errno);
    char **argv = field_vec(rq, rq->argv_at, rq->argc);
    char **envp = field_vec(rq, rq->env_at, rq->envc);

    int64_t started_ns = clock_ns(CLOCK_REALTIME);
    pid_t task = fork();
    if (task < 0) keeper_fail(id, "cannot fork task", errno);
    if (task == 0) {
        close(pgo[1]);
        task_child(rq, argv, envp, pgo[0], po[1], pe[1], perr[1]);
    }
    setpgid(task, task);               /* also here, so killpg() works whoever runs first */
    close(po[1]); close(pe[1]); close(pgo[0]); close(perr[1]);
    out.pipe = po[0], err.pipe = pe[0];
    fcntl(out.pipe, F_SETFL, O_NONBLOCK), fcntl(err.pipe, F_SETFL, O_NONBLOCK);

    /* Ownership: link() the pid file into place; exactly one keeper can win. */
    char started[40], tmp[96];
    fmt_time(started, started_ns, 3);
    struct buf b = {0};
    buf_add(&b, "{\"runId\":", 9);
    buf_json(&b, id);
    buf_fmt(&b, ",\"keeperPid\":%d,\"pid\":%d,\"startedAt\":", (int)getpid(), (int)task);
    buf_json(&b, started);
    buf_add(&b, "}\n", 2);
    snprintf(tmp, sizeof tmp, "pid.tmp.%s", id);
    int pid_fd = -1;
    const off_t exit_at = (off_t)b.n;
    int perr_link = own_pid_file(K.dirfd, tmp, &b, &pid_fd);
    if (perr_link) {
        close(pgo[1]);                 /* EOF on "go": the child exits without running anything */
        kill(task, SIGKILL);
        while (waitpid(task, NULL, 0) < 0 && errno == EINTR) {}
        if (perr_link == EEXIST) { emit("SUPERSEDED %s", id); _exit(0); }
        keeper_fail(id, "cannot write pid file", perr_link);
    }
    (void)write_all(pgo[1], "g", 1);
    close(pgo[1]);
    char ticks[32];
    self_start_ticks(ticks);
    emit("STARTED %s %d %d %s %s", id, (int)getpid(), (int)task, ticks, started);

    /* Supervise: signals, both pipes and three deadlines (timeout, SIGKILL after grace, draining). */
    int64_t timeout_at = rq->timeout_ms > 0 ? mono_ms() + rq->timeout_ms : -1;
    int64_t kill_at = -1, drain_at = -1, finished_ns = 0;
    bool exited = false, killing = false, timed_out = false;
    int status = 0;
    char *chunk = malloc(READ_CHUNK);
    if (!chunk) keeper_fail(id, "cannot allocate", ENOMEM);

    for (;;) {
        int64_t now = mono_ms();
        if (exited && ((out.pipe < 0 && err.pipe < 0) || now >= drain_at)) break;
        int64_t next = -1;
        if (timeout_at >= 0) next = timeout_at;
        if (kill_at >= 0 && (next < 0 || kill_at < next)) next = kill_at;
        if (drain_at >= 0 && (next < 0 || drain_at < next)) next = drain_at;
        int wait_ms = next < 0 ? -1 : next <= now ? 0 : (int)(next - now > INT_MAX ? INT_MAX : next - now);
        struct pollfd pf[3] = {{sfd, POLLIN, 0}, {out.pipe, POLLIN, 0}, {err.pipe, POLLIN, 0}};
        if (poll(pf, 3, wait_ms) < 0 && errno != EINTR) usleep(10000); /* ENOMEM: never give up the task */
        bool stop = false, child = false;
        struct signalfd_siginfo si;
        while (pf[0].revents && read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGTERM) stop = true;
            if (si.ssi_signo == SIGCHLD) child = true;
        }
        if (pf[1].revents) pump(&out, chunk);   /* negative fds never report events */
        if (pf[2].revents) pump(&err, chunk);
        now = mono_ms();
        if (child && !exited) {
            /* Peek without reaping: while the zombie holds the pid, the group id cannot be reused,
             * so the SIGKILL to the rest of the group cannot hit a stranger. */
            siginfo_t wi = {0};
            if (waitid(P_PID, (id_t)task, &wi, WEXITED | WNOHANG | WNOWAIT) == 0 && wi.si_pid == task) {
                killpg(task, SIGKILL);
                while (waitpid(task, &status, 0) < 0 && errno == EINTR) {}
                finished_ns = clock_ns(CLOCK_REALTIME);
                exited = true;
                timeout_at = kill_at = -1;
                drain_at = now + DRAIN_MS;
            }
        }
        bool timeout = timeout_at >= 0 && now >= timeout_at;
        /* A stop may bring its own grace period (the `stop` file); a timeout uses the one of the request. */
        int64_t grace = stop ? stop_grace_ms(rq->grace_ms) : rq->grace_ms;
        if ((stop || timeout) && !exited && !killing) {
            killing = true;
            timed_out = timeout && !stop;
            timeout_at = -1;
            killpg(task, SIGTERM);
            if (grace == 0) killpg(task, SIGKILL);
            else kill_at = now + grace;
        } else if (stop && killing && !exited && kill_at >= 0 && now + grace < kill_at) {
            /* Already stopping with a longer grace: the shorter one asked for now wins. */
            if (grace == 0) killpg(task, SIGKILL), kill_at = -1;
            else kill_at = now + grace;
        }
        if (kill_at >= 0 && now >= kill_at) killpg(task, SIGKILL), kill_at = -1;
    }

    /* Outcome. A start error reported by the child overrides its placeholder exit status. */
    struct start_error se;
    ssize_t r;
    do r = read(perr[0], &se, sizeof se); while (r < 0 && errno == EINTR);
    int code = 0, sig = 0;
    char msg[4096] = "";
    if (r == (ssize_t)sizeof se) {
        const char *why = strerror(se.err);
        code = 1;
        switch (se.stage) {
        case STAGE_EXEC:
            code = se.err == ENOENT ? 127 : 126;   /* the shell's convention */
            snprintf(msg, sizeof msg, "cannot execute \"%s\": %s", argv[0], why);
            break;
        case STAGE_CHDIR:
            snprintf(msg, sizeof msg, "cannot change to working directory \"%s\": %s", rq->work_dir, why);
            break;
        case STAGE_CGROUP:
            snprintf(msg, sizeof msg, "cannot join cgroup \"%s\": %s", rq->f[rq->cg_at + (size_t)se.index].p, why);
            break;
        default:
            snprintf(msg, sizeof msg, "cannot set up the task process: %s", why);
        }
    } else if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        code = 128 + sig;
    } else {
        code = WEXITSTATUS(status);
    }
    char finished[40];
    fmt_time(finished, finished_ns, 3);
    b.n = 0;
    buf_add(&b, "{\"runId\":", 9);
    buf_json(&b, id);
    buf_fmt(&b, ",\"exitCode\":%d,\"signal\":", code);
    if (sig) buf_fmt(&b, "%d", sig); else buf_add(&b, "null", 4);
    buf_fmt(&b, ",\"timedOut\":%s,\"startError\":", timed_out ? "true" : "false");
    if (msg[0]) buf_json(&b, msg); else buf_add(&b, "null", 4);
    buf_add(&b, ",\"startedAt\":", 13);
    buf_json(&b, started);
    buf_add(&b, ",\"finishedAt\":", 14);
    buf_json(&b, finished);
    buf_add(&b, "}\n", 2);
    /* The exit code must not be lost: the write is retried until it succeeds (a full disk gets space back,
     * a failing one is replaced), once a second at first and then every EXIT_RETRY_MAX_S seconds. The
     * failure is reported on stderr at the first attempt and then about once a minute. */
    int64_t failing_since = -1, reported_at = -1;
    for (unsigned delay = 1;; delay = delay * 2 > EXIT_RETRY_MAX_S ? EXIT_RETRY_MAX_S : delay * 2) {
        int e = append_exit(pid_fd, exit_at, &b);
        if (e == 0) break;
        int64_t now = mono_ms();
        if (failing_since < 0) failing_since = now;
        if (reported_at < 0 || now - reported_at >= 60000) {
            fprintf(stderr, "task-shim: %s: cannot write the exit record (failing for %llds, retrying): %s\n", id,
                    (long long)((now - failing_since) / 1000), strerror(e));
            reported_at = now;
        }
        sleep(delay);
    }
    emit("EXITED %s", id);
    _exit(0);
}

/* ------------------------------------------------------------------ launcher */

static void reap_keepers(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    errno = saved;
}

static void start_task(struct request *rq) {
    const char *bad = check_request(rq);
    if (!rq->run_id) { fprintf(stderr, "task-shim: request ignored: %s\n", bad); return; }
    if (bad) { emit("FAILED %s %s", rq->run_id, bad); return; }
    /* All signals blocked across fork(): the keeper must not die from a signal aimed at the launcher's
     * group before its setsid(), nor run the launcher's SIGCHLD handler. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) keeper(rq);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) emit("FAILED %s cannot fork keeper: %s", rq->run_id, strerror(e));
    else emit("FORKED %s %d", rq->run_id, (int)pid);
}

int main(int argc, char **argv) {
    if (argc != 2 || strcmp(argv[1], "launcher") != 0) {
        fputs("usage: task-shim launcher\n", stderr);
        return 2;
    }
    /* fds 0-2 must exist, or pipes created later could land on them and be clobbered by dup2. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) return 2;
    cloexec_from3();
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = reap_keepers;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    emit("READY %s", SHIM_VERSION);

    size_t cap = REQ_BUF_MIN, len = 0;
    char *buf = malloc(cap);
    struct request rq = {0};
    if (!buf) return 70;
    for (;;) {
        if (len == cap) {
            if (cap >= 2 * (size_t)MAX_FIELD) { fputs("task-shim: request too large\n", stderr); return 2; }
            char *nb = realloc(buf, cap * 2);
            if (!nb) { fputs("task-shim: out of memory\n", stderr); return 70; }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(STDIN_FILENO, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("task-shim: read");
            return 1;
        }
        if (r == 0) return 0;          /* the executor went away; keepers are on their own */
        len += (size_t)r;
        size_t off = 0, used = 0;
        int st;
        while ((st = parse_request(buf + off, len - off, &rq, &used)) == 1) {
            start_task(&rq);
            off += used;
        }
        if (st < 0) { fputs("task-shim: malformed request or unknown verb\n", stderr); return 2; }
        memmove(buf, buf + off, len - off);
        len -= off;
        if (cap > REQ_BUF_MIN && len < REQ_BUF_MIN) {  /* a small launcher forks faster */
            char *nb = realloc(buf, REQ_BUF_MIN);
            if (nb) { buf = nb; cap = REQ_BUF_MIN; }
        }
    }
}
