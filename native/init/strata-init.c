// strata-init: the in-namespace half of `strata run`, kept in C so a container start costs
// one exec and no shell (the image may have none) and no extra node process.
//
// It is started by src/run/start.ts with every input on its command line, and:
//  1. (rootless) enters a new user namespace mapping the caller to root (newuidmap and
//     newgidmap when /etc/subuid ranges were passed), so the FUSE mount below is owned
//     by that namespace;
//  2. enters a private mount namespace and mounts the union there, so it is never
//     visible on the host: either by running the mount program (fuse-overlayfs's
//     command line), whose daemon then serves it (with --mount-serves the program is the
//     daemon: it reports readiness on its fd 3 and stays), or (--fuse-sock, a foreground `strata
//     run`) by mounting /dev/fuse itself and sending the fd to strata over a unix socket
//     (SCM_RIGHTS), which serves the union in its own process: no daemon to start;
//  3. enters new pid, uts, ipc (and net) namespaces and forks the container's pid 1, which
//     sets up /proc, /dev, /sys and bind mounts (targets resolved with RESOLVE_IN_ROOT so
//     an image's symlinks cannot point them at the host), pivot_roots, resolves the user
//     from the image's /etc/passwd and /etc/group, and execs the command;
//  4. stays outside as its supervisor: forwards signals, copies a pty (-t), reaps, then
//     unmounts the union (the FUSE daemon exits with it) and writes the exit code.
// With --on-exit ARGV, ARGV runs once it has ended (how `run -d --rm` removes its record);
// with --on-exit-orphaned too, only when its parent died first (a foreground `run --rm`
// whose strata was killed: the record is removed all the same).
// A killed supervisor cannot unmount: a small reaper process in its user and mount
// namespaces does it then, so the FUSE daemon never outlives the container.
// With --late-args-fd N (a rootless foreground `strata run`, spawned before it has
// resolved the image or made the record) only the user namespace maps, the mount program
// and these start-up options are on the command line: it makes the user and mount
// namespaces and starts the mount program (strata's daemon, --mount-serves) at once, so
// that node's start-up there overlaps strata's own work, and then reads the rest of its
// command line from fd N (NUL-terminated arguments, to EOF). The daemon gets its log path
// and its late --mount arguments the same way on its stdin. EOF before any argument means
// it is not needed after all (strata failed, or died): it kills the daemon, which had
// mounted nothing yet, and exits 0, saying nothing.
// Progress goes to --status-fd as lines: "fuse" (the /dev/fuse fd was sent), "started PID
// DAEMONPID UID GID", "error CODE MSG", "exited CODE". Exit status: the command's (128+N when killed by signal N); 125 when
// the container could not be set up, 126/127 when the command cannot be executed.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAXN 1024
#define EXIT_SETUP 125

struct bind { const char *src, *dst; int ro; };

static struct {
  const char *rootfs, *hostname, *cwd, *user, *exit_file, *mount_log;
  const char *fuse_opts, *fuse_source; int fuse_sock;
  const char *mount_argv[MAXN + 1]; int nmount;
  const char *uidmap[MAXN], *gidmap[MAXN]; int nuidmap, ngidmap;
  const char *env[MAXN + 8]; int nenv;
  const char *on_exit[MAXN + 1]; int non_exit;
  struct bind binds[MAXN]; int nbind;
  char **argv;
  int userns, netns, tty, stdin_open, status_fd, parent_death, on_exit_orphaned;
  int mount_serves;
  int can_setgroups;
  int late_fd;       // --late-args-fd
  int nmount_early;  // the mount program's own arguments (late mode): the rest go to its stdin
} o = { .status_fd = -1, .fuse_sock = -1, .late_fd = -1 };

static void status(const char *fmt, ...) {
  if (o.status_fd < 0) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  if (write(o.status_fd, buf, n) < 0) { /* strata went away: nothing to tell */ }
}

// Errors of the container child travel to the supervisor on this pipe.
static int err_fd = -1;

static void __attribute__((noreturn, format(printf, 2, 3))) child_fail(int code, const char *fmt, ...) {
  char buf[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  dprintf(err_fd, "fail %d %s\n", code, buf);
  _exit(code);
}

static void cleanup_mount(pid_t daemon, int sfd);
static pid_t daemon_pid = -1;
static pid_t on_exit_waiter = -1;
static int on_exit_fd = -1;
static pid_t reaper_pid = -1;
static int reaper_fd = -1;
static pid_t supervisor_pid = -1;
// late mode: the daemon, until it has been handed its arguments; the waiter's command pipe
static pid_t late_daemon = -1;
static int on_exit_args_fd = -1;

static void __attribute__((noreturn, format(printf, 1, 2))) setup_fail(const char *fmt, ...) {
  char buf[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  status("error %d %s", EXIT_SETUP, buf);
  if (o.status_fd < 0) fprintf(stderr, "strata-init: %s\n", buf);
  exit(EXIT_SETUP);
}

static int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  int e = errno;
  close(fd);
  errno = e;
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int run_wait(const char *const argv[]) {
  pid_t p = fork();
  if (p < 0) return -1;
  if (p == 0) {
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  int st;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// ---- user namespace -------------------------------------------------------------------

static int self_map(const char *const *map, int n, unsigned id) {
  if (n != 1) return 0;
  unsigned in, out, cnt;
  return sscanf(map[0], "%u %u %u", &in, &out, &cnt) == 3 && out == id && cnt == 1;
}

static void map_with_helpers(pid_t pid) {
  char pidbuf[16];
  snprintf(pidbuf, sizeof pidbuf, "%d", pid);
  for (int k = 0; k < 2; k++) {
    const char *argv[3 * MAXN + 3];
    int n = 0;
    const char **map = k == 0 ? o.uidmap : o.gidmap;
    int nm = k == 0 ? o.nuidmap : o.ngidmap;
    argv[n++] = k == 0 ? "newuidmap" : "newgidmap";
    argv[n++] = pidbuf;
    static char words[2][MAXN][3][16];
    for (int i = 0; i < nm; i++) {
      if (sscanf(map[i], "%15s %15s %15s", words[k][i][0], words[k][i][1], words[k][i][2]) != 3) _exit(2);
      for (int j = 0; j < 3; j++) argv[n++] = words[k][i][j];
    }
    argv[n] = NULL;
    if (run_wait(argv) != 0) _exit(1);
  }
  _exit(0);
}

static void enter_userns(void) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  int simple = self_map(o.uidmap, o.nuidmap, uid) && self_map(o.gidmap, o.ngidmap, gid);
  if (simple) {
    if (unshare(CLONE_NEWUSER) < 0) setup_fail("cannot create a user namespace: %s", strerror(errno));
    char buf[64];
    if (write_file("/proc/self/setgroups", "deny") < 0) setup_fail("setgroups deny: %s", strerror(errno));
    snprintf(buf, sizeof buf, "0 %u 1", uid);
    if (write_file("/proc/self/uid_map", buf) < 0) setup_fail("uid_map: %s", strerror(errno));
    snprintf(buf, sizeof buf, "0 %u 1", gid);
    if (write_file("/proc/self/gid_map", buf) < 0) setup_fail("gid_map: %s", strerror(errno));
    return;
  }
  // newuidmap must write our maps from outside the namespace, after we entered it
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) setup_fail("pipe: %s", strerror(errno));
  pid_t me = getpid();
  pid_t m = fork();
  if (m < 0) setup_fail("fork: %s", strerror(errno));
  if (m == 0) {
    char c;
    close(sync[1]);
    if (read(sync[0], &c, 1) != 1) _exit(1);
    map_with_helpers(me);
  }
  close(sync[0]);
  if (unshare(CLONE_NEWUSER) < 0) setup_fail("cannot create a user namespace: %s", strerror(errno));
  if (write(sync[1], "x", 1) != 1) setup_fail("sync: %s", strerror(errno));
  close(sync[1]);
  int st;
  while (waitpid(m, &st, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) setup_fail("newuidmap/newgidmap failed for the /etc/subuid and /etc/subgid ranges");
  o.can_setgroups = 1;
}

// ---- the union mount ------------------------------------------------------------------

// The child of ours that is not the --on-exit waiter: the daemon the mount program left.
static pid_t daemon_child(pid_t not) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
    pid_t p = (pid_t)atoi(tok);
    if (p > 0 && p != not) return p;
  }
  return -1;
}

// The mount program failed (exit status st): its error, from msg or else its log.
static void __attribute__((noreturn)) mount_failed(int st, const char *msg) {
  char buf[300] = "";
  snprintf(buf, sizeof buf, "%s", msg ? msg : "");
  int fd = *buf || !o.mount_log ? -1 : open(o.mount_log, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
  }
  for (char *c = buf; *c; c++) if (*c == '\n') *c = ' ';
  size_t n = strlen(buf);
  while (n > 0 && buf[n - 1] == ' ') buf[--n] = 0;
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  // (--mount-serves: mount_argv[0] is /usr/bin/env or node, which tells nobody anything)
  if (o.mount_serves) setup_fail("the mount daemon failed (status %d)%s%s", code, *buf ? ": " : "", buf);
  setup_fail("mount program %s failed (status %d)%s%s", o.mount_argv[0], code, *buf ? ": " : "", buf);
}

// --mount-serves: the mount program is the FUSE daemon itself (strata's, started by
// node as the mount program is: no second node start-up behind a program that waits for
// its daemon and exits). It reports "ready" (the kernel's INIT answered) or "error MSG" on
// its fd 3 and closes it; it stays, our child, serving the mount.
static void wait_mount_ready(pid_t p, int fd) {
  char msg[600];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, msg + len, sizeof msg - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len >= sizeof msg - 1) break;
  }
  close(fd);
  msg[len] = 0;
  if (!strncmp(msg, "ready", 5)) {
    daemon_pid = p;
    return;
  }
  int st;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
  const char *text = !strncmp(msg, "error ", 6) ? msg + 6 : NULL;
  if (text) text = strtok(msg + 6, "\n");
  mount_failed(st, text);
}

// Forks and execs the mount program: its output to the mount log (late mode: /dev/null,
// until the daemon opens the log itself), stdin /dev/null or (in >= 0) that pipe, and the
// report pipe (ready_w >= 0) as its fd 3.
static pid_t spawn_mount_program(int ready_w, int in) {
  pid_t p = fork();
  if (p < 0) setup_fail("fork: %s", strerror(errno));
  if (p > 0) return p;
  const char *log = o.late_fd < 0 && o.mount_log ? o.mount_log : "/dev/null";
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
  if (in >= 0) dup2(in, 0);
  else if (nul >= 0) dup2(nul, 0);
  // the report pipe as fd 3, open across the exec (dup2 onto itself would keep CLOEXEC)
  if (ready_w >= 0) {
    if (ready_w == 3) fcntl(3, F_SETFD, 0);
    else dup2(ready_w, 3);
  }
  execvp(o.mount_argv[0], (char *const *)o.mount_argv);
  dprintf(2, "cannot execute %s: %s\n", o.mount_argv[0], strerror(errno));
  _exit(127);
}

static void mount_union(void) {
  int ready[2] = { -1, -1 };
  if (o.mount_serves && pipe2(ready, O_CLOEXEC) < 0) setup_fail("pipe: %s", strerror(errno));
  pid_t p = spawn_mount_program(ready[1], -1);
  if (o.mount_serves) {
    close(ready[1]);
    wait_mount_ready(p, ready[0]);
    return;
  }
  int st;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) mount_failed(st, NULL);
  // the daemon it left behind is now ours (we are a subreaper)
  daemon_pid = daemon_child(on_exit_waiter);
}

// Sends fd over a unix socket with SCM_RIGHTS (one byte of payload: c): the terminal to
// the supervisor, /dev/fuse to strata (--fuse-sock). 0, or -1 with errno.
static int send_fd(int sock, int fd, char c) {
  struct iovec iov = { &c, 1 };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &m, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -1;
}

// The in-process server's mount (--fuse-sock): /dev/fuse is opened here, in the user
// namespace that will own the mount (the kernel refuses an fd opened in another one),
// mounted as libfuse's fuse_session_mount would (fd=, rootmode=, user_id/group_id of
// the mounter; nosuid,nodev unless this is the host's root, as the daemon mounts), and
// the fd goes to strata, which serves it. Nothing may touch the mount before the kernel's
// INIT is answered (a request would wait for it, and strata could be gone): strata answers
// INIT, then writes one byte back; EOF instead means it failed or died.
static void mount_fuse(void) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) setup_fail("cannot open /dev/fuse: %s", strerror(errno));
  char data[4200];
  snprintf(data, sizeof data, "fd=%d,rootmode=40000,user_id=%u,group_id=%u%s%s", fd, (unsigned)geteuid(), (unsigned)getegid(),
           o.fuse_opts && *o.fuse_opts ? "," : "", o.fuse_opts ? o.fuse_opts : "");
  unsigned long flags = o.userns ? MS_NOSUID | MS_NODEV : 0;
  if (mount(o.fuse_source ? o.fuse_source : "strata", o.rootfs, "fuse.strata", flags, data) < 0)
    setup_fail("mount fuse.strata on %s: %s", o.rootfs, strerror(errno));
  int sent = send_fd(o.fuse_sock, fd, 'f');
  int e = errno;
  close(fd);  // the container never holds it: strata's fd alone keeps the connection
  if (sent < 0) { umount2(o.rootfs, MNT_DETACH); setup_fail("sending /dev/fuse to strata: %s", strerror(e)); }
  status("fuse");
  char c = 0;
  ssize_t n;
  do n = read(o.fuse_sock, &c, 1); while (n < 0 && errno == EINTR);
  close(o.fuse_sock);
  o.fuse_sock = -1;
  if (n != 1 || c != 'r') { umount2(o.rootfs, MNT_DETACH); setup_fail("strata did not serve the union mount"); }
}

static void stdio_to_null(void) {
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); dup2(nul, 2); }
}

// Blocks until the write end of a pipe closes; answers whether a byte came first.
static int wait_eof(int fd) {
  int got = 0;
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n > 0) got = 1;
    else if (!(n < 0 && errno == EINTR)) return got;
  }
}

// Forked in the user and mount namespaces that own the union mount, holding no fd of it:
// when the supervisor is gone (its pipe's write end closes, also on SIGKILL) it unmounts
// the union there, so the FUSE daemon ends as it does after a normal exit, and kills the
// daemon if it is still there after five seconds. The pidfd, opened while the daemon is
// still our unreaped child, names that process and no other (no pid reuse).
static void start_reaper(void) {
  if (daemon_pid <= 0) return;
  int pidfd = (int)syscall(SYS_pidfd_open, daemon_pid, 0);
  if (pidfd < 0) return;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) { close(pidfd); return; }
  pid_t r = fork();
  if (r == 0) {
    close(p[1]);
    if (o.status_fd >= 0) close(o.status_fd);
    stdio_to_null();
    wait_eof(p[0]);
    umount2(o.rootfs, MNT_DETACH);
    struct pollfd pf = { pidfd, POLLIN, 0 };
    while (poll(&pf, 1, 5000) < 0 && errno == EINTR) {}
    if (!(pf.revents & POLLIN)) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    _exit(0);
  }
  close(p[0]);
  close(pidfd);
  if (r < 0) { close(p[1]); return; }
  reaper_pid = r;
  reaper_fd = p[1];
}

// At the supervisor's exit (after cleanup_mount): the reaper finds nothing left to do,
// and an --on-exit-orphaned waiter nothing to run; both are waited for, so nothing of the
// container is still running once strata-init is gone.
static void finish_helpers(void) {
  if (getpid() != supervisor_pid) return;
  // late mode, when it fails before the daemon has its arguments: the daemon is stopped
  // (it has mounted nothing), and the waiter's command pipe ends empty (it exits)
  if (late_daemon > 0) {
    kill(late_daemon, SIGKILL);
    while (waitpid(late_daemon, NULL, 0) < 0 && errno == EINTR) {}
    late_daemon = -1;
  }
  if (on_exit_args_fd >= 0) {
    close(on_exit_args_fd);
    on_exit_args_fd = -1;
  }
  if (reaper_pid > 0) {
    close(reaper_fd);
    waitpid(reaper_pid, NULL, 0);
    reaper_pid = -1;
  }
  if (on_exit_waiter > 0 && o.on_exit_orphaned && on_exit_fd >= 0) {
    close(on_exit_fd);
    on_exit_fd = -1;
    waitpid(on_exit_waiter, NULL, 0);
  }
}

// ---- the container's pid 1, before exec -----------------------------------------------

static int in_root(int root, const char *path, int flags) {
  struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  while (*path == '/') path++;
  if (!*path) path = ".";
  return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

// An O_PATH fd on PATH inside the root, created (as a directory, or an empty file) when
// missing.
static int ensure(int root, const char *path, int dir) {
  int fd = in_root(root, path, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  const char *base = path;
  int pfd;
  if (slash && slash != parent) {
    *slash = 0;
    base = slash + 1;
    pfd = ensure(root, parent, 1);
  } else {
    base = slash ? slash + 1 : path;
    pfd = in_root(root, "/", O_PATH);
  }
  if (pfd < 0) return -1;
  int r = dir ? mkdirat(pfd, base, 0755) : -1;
  if (!dir) {
    int f = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f >= 0) { close(f); r = 0; }
  }
  int e = errno;
  close(pfd);
  if (r < 0 && e != EEXIST) { errno = e; return -1; }
  return in_root(root, path, O_PATH);
}

static const char *fdpath(int fd) {
  static char bufs[4][40];
  static int i;
  char *b = bufs[i++ % 4];
  snprintf(b, 40, "/proc/self/fd/%d", fd);
  return b;
}

static void mount_at(int root, const char *dst, int dir, const char *src, const char *type, unsigned long flags, const char *data) {
  int fd = ensure(root, dst, dir);
  if (fd < 0) child_fail(EXIT_SETUP, "cannot create mount point %s: %s", dst, strerror(errno));
  if (mount(src, fdpath(fd), type, flags, data) < 0) child_fail(EXIT_SETUP, "mount %s on %s: %s", type ? type : src, dst, strerror(errno));
  close(fd);
}

// Read-only remount of a bind that keeps the flags the kernel locked on it (rootless).
static int remount_ro(int root, const char *dst) {
  int fd = in_root(root, dst, O_PATH);
  if (fd < 0) return -1;
  struct statvfs sv;
  unsigned long keep = 0;
  if (fstatvfs(fd, &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
  }
  int r = mount(NULL, fdpath(fd), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL);
  close(fd);
  return r;
}

static void bind_at(int root, const char *src, const char *dst, int ro) {
  struct stat st;
  if (stat(src, &st) < 0) child_fail(EXIT_SETUP, "bind source %s: %s", src, strerror(errno));
  mount_at(root, dst, S_ISDIR(st.st_mode), src, NULL, MS_BIND | MS_REC, NULL);
  if (ro && remount_ro(root, dst) < 0) child_fail(EXIT_SETUP, "read-only remount of %s: %s", dst, strerror(errno));
}

static const struct { const char *name; unsigned maj, min; } devices[] = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static void setup_dev(int root) {
  mount_at(root, "dev", 1, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  int dev = in_root(root, "dev", O_PATH | O_DIRECTORY);
  if (dev < 0) child_fail(EXIT_SETUP, "/dev: %s", strerror(errno));
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    if (mknodat(dev, devices[i].name, S_IFCHR | 0666, makedev(devices[i].maj, devices[i].min)) == 0) {
      fchmodat(dev, devices[i].name, 0666, 0);  // umask
      continue;
    }
    // a user namespace may not make device nodes: bind the host's
    char host[64];
    snprintf(host, sizeof host, "/dev/%s", devices[i].name);
    char dst[64];
    snprintf(dst, sizeof dst, "dev/%s", devices[i].name);
    bind_at(root, host, dst, 0);
  }
  mkdirat(dev, "pts", 0755);
  int pts = openat(dev, "pts", O_PATH | O_CLOEXEC);
  if (mount("devpts", fdpath(pts), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 &&
      mount("devpts", fdpath(pts), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
    child_fail(EXIT_SETUP, "mount devpts: %s", strerror(errno));
  close(pts);
  symlinkat("pts/ptmx", dev, "ptmx");
  mkdirat(dev, "shm", 01777);
  int shm = openat(dev, "shm", O_PATH | O_CLOEXEC);
  if (mount("shm", fdpath(shm), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
    child_fail(EXIT_SETUP, "mount /dev/shm: %s", strerror(errno));
  close(shm);
  symlinkat("/proc/self/fd", dev, "fd");
  symlinkat("/proc/self/fd/0", dev, "stdin");
  symlinkat("/proc/self/fd/1", dev, "stdout");
  symlinkat("/proc/self/fd/2", dev, "stderr");
  close(dev);
}

// The parts of /proc that reach past the container (as runc's defaults): files that
// read the host's memory or keys or act on it are covered by /dev/null, the kernel's knobs
// are read-only.
static const char *const masked[] = { "proc/kcore", "proc/keys", "proc/timer_list", "proc/sysrq-trigger", "proc/latency_stats", "proc/sched_debug" };
static const char *const read_only[] = { "proc/sys", "proc/bus", "proc/fs", "proc/irq", "proc/asound" };

static void mask_proc(int root) {
  for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
    int fd = in_root(root, masked[i], O_PATH);
    if (fd < 0) continue;
    if (mount("/dev/null", fdpath(fd), NULL, MS_BIND, NULL) < 0) child_fail(EXIT_SETUP, "masking /%s: %s", masked[i], strerror(errno));
    close(fd);
  }
  for (size_t i = 0; i < sizeof read_only / sizeof read_only[0]; i++) {
    int fd = in_root(root, read_only[i], O_PATH | O_DIRECTORY);
    if (fd < 0) continue;
    if (mount(fdpath(fd), fdpath(fd), NULL, MS_BIND | MS_REC, NULL) < 0 || remount_ro(root, read_only[i]) < 0)
      child_fail(EXIT_SETUP, "read-only /%s: %s", read_only[i], strerror(errno));
    close(fd);
  }
}

// Docker's default capabilities: what a container's root keeps. The others (SYS_ADMIN,
// SYS_MODULE, SYS_PTRACE, NET_ADMIN, ...) leave the bounding set, so no exec gets them.
static const int kept_caps[] = { 0 /* CHOWN */, 1 /* DAC_OVERRIDE */, 3 /* FOWNER */, 4 /* FSETID */, 5 /* KILL */,
  6 /* SETGID */, 7 /* SETUID */, 8 /* SETPCAP */, 10 /* NET_BIND_SERVICE */, 13 /* NET_RAW */, 18 /* SYS_CHROOT */,
  27 /* MKNOD */, 29 /* AUDIT_WRITE */, 31 /* SETFCAP */ };

static void drop_caps(void) {
  int last = 40;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) { if (fscanf(f, "%d", &last) != 1) last = 40; fclose(f); }
  for (int c = 0; c <= last; c++) {
    int keep = 0;
    for (size_t i = 0; i < sizeof kept_caps / sizeof kept_caps[0]; i++) keep |= kept_caps[i] == c;
    if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      child_fail(EXIT_SETUP, "dropping capability %d: %s", c, strerror(errno));
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static void setup_sys(int root) {
  int fd = ensure(root, "sys", 1);
  if (fd < 0) child_fail(EXIT_SETUP, "cannot create /sys: %s", strerror(errno));
  unsigned long fl = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("sysfs", fdpath(fd), "sysfs", fl, NULL) == 0) { close(fd); return; }
  // a user namespace that does not own the network namespace may not mount sysfs: the
  // host's, read-only, or none at all
  if (mount("/sys", fdpath(fd), NULL, MS_BIND | MS_REC, NULL) == 0 && remount_ro(root, "sys") < 0) {
    int top = in_root(root, "sys", O_PATH);
    umount2(fdpath(top), MNT_DETACH);
    close(top);
  }
  close(fd);
}

// ---- users ----------------------------------------------------------------------------

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++) if (*s < '0' || *s > '9') return 0;
  return 1;
}

struct user { uid_t uid; gid_t gid; char name[256]; char home[1024]; gid_t groups[64]; int ngroups; };

// Fields of one passwd/group line, split in place on ':'.
static int split(char *line, char **f, int max) {
  int n = 0;
  f[n++] = line;
  for (char *c = line; *c && n < max; c++) if (*c == ':') { *c = 0; f[n++] = c + 1; }
  return n;
}

static void resolve_user(const char *spec, struct user *u) {
  char who[256] = "0", grp[256] = "";
  if (spec && *spec) {
    const char *colon = strchr(spec, ':');
    snprintf(who, sizeof who, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
    if (colon) snprintf(grp, sizeof grp, "%s", colon + 1);
  }
  int numeric = all_digits(who);
  u->uid = numeric ? (uid_t)strtoul(who, NULL, 10) : (uid_t)-1;
  u->gid = 0;
  snprintf(u->home, sizeof u->home, "/");
  u->name[0] = 0;
  int found = 0;
  FILE *f = fopen("/etc/passwd", "re");
  char line[2048];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *fl[8];
    if (split(line, fl, 8) < 7) continue;
    if (numeric ? strtoul(fl[2], NULL, 10) == u->uid && all_digits(fl[2]) : strcmp(fl[0], who) == 0) {
      u->uid = (uid_t)strtoul(fl[2], NULL, 10);
      u->gid = (gid_t)strtoul(fl[3], NULL, 10);
      snprintf(u->name, sizeof u->name, "%s", fl[0]);
      snprintf(u->home, sizeof u->home, "%s", fl[5]);
      found = 1;
      break;
    }
  }
  if (f) fclose(f);
  if (!found && !numeric) child_fail(EXIT_SETUP, "unable to find user %s: no matching entries in passwd file", who);
  u->ngroups = 0;
  int gfound = all_digits(grp);
  if (gfound) u->gid = (gid_t)strtoul(grp, NULL, 10);
  f = fopen("/etc/group", "re");
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *fl[5];
    if (split(line, fl, 5) < 4) continue;
    gid_t g = (gid_t)strtoul(fl[2], NULL, 10);
    if (*grp && !gfound && strcmp(fl[0], grp) == 0) { u->gid = g; gfound = 1; }
    if (!*grp && u->name[0]) {
      // supplementary groups: those that list the user as a member
      for (char *m = strtok(fl[3], ","); m && u->ngroups < 63; m = strtok(NULL, ","))
        if (strcmp(m, u->name) == 0) u->groups[u->ngroups++] = g;
    }
  }
  if (f) fclose(f);
  if (*grp && !gfound) child_fail(EXIT_SETUP, "unable to find group %s: no matching entries in group file", grp);
  u->groups[u->ngroups++] = u->gid;
}

// ---- exec -----------------------------------------------------------------------------

static const char *env_get(const char *key) {
  size_t n = strlen(key);
  for (int i = o.nenv - 1; i >= 0; i--)
    if (strncmp(o.env[i], key, n) == 0 && o.env[i][n] == '=') return o.env[i] + n + 1;
  return NULL;
}

static void __attribute__((noreturn)) exec_command(void) {
  const char *cmd = o.argv[0];
  char **envp = (char **)o.env;
  if (strchr(cmd, '/')) {
    execve(cmd, o.argv, envp);
    int e = errno;
    if (e == ENOENT) child_fail(127, "%s: no such file or directory", cmd);
    child_fail(126, "%s: %s", cmd, strerror(e));
  }
  const char *path = env_get("PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int denied = 0;
  char buf[4096];
  while (*path) {
    size_t len = strcspn(path, ":");
    snprintf(buf, sizeof buf, "%.*s/%s", len ? (int)len : 1, len ? path : ".", cmd);
    execve(buf, o.argv, envp);
    if (errno == EACCES) denied = errno;
    else if (errno != ENOENT && errno != ENOTDIR) child_fail(126, "%s: %s", buf, strerror(errno));
    path += len;
    if (*path == ':') path++;
  }
  if (denied) child_fail(126, "%s: permission denied", cmd);
  child_fail(127, "%s: executable file not found in $PATH", cmd);
}

static int recv_fd(int sock) {
  char c;
  struct iovec iov = { &c, 1 };
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
  if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) <= 0) return -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return fd;
}

static void copy_winsize(int master);

static void __attribute__((noreturn)) container_main(int tty_sock) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  if (unshare(CLONE_NEWNS) < 0) child_fail(EXIT_SETUP, "mount namespace: %s", strerror(errno));
  int root = open(o.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) child_fail(EXIT_SETUP, "rootfs %s: %s", o.rootfs, strerror(errno));
  mount_at(root, "proc", 1, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mask_proc(root);
  setup_dev(root);
  setup_sys(root);
  for (int i = 0; i < o.nbind; i++) bind_at(root, o.binds[i].src, o.binds[i].dst, o.binds[i].ro);
  if (fchdir(root) < 0) child_fail(EXIT_SETUP, "chdir rootfs: %s", strerror(errno));
  if (syscall(SYS_pivot_root, ".", ".") < 0) child_fail(EXIT_SETUP, "pivot_root: %s", strerror(errno));
  if (umount2(".", MNT_DETACH) < 0) child_fail(EXIT_SETUP, "detaching the old root: %s", strerror(errno));
  if (chdir("/") < 0) child_fail(EXIT_SETUP, "chdir /: %s", strerror(errno));
  close(root);

  struct user u;
  resolve_user(o.user, &u);
  if (!env_get("HOME") && o.nenv < MAXN + 7) {
    static char home[1100];
    snprintf(home, sizeof home, "HOME=%s", u.home);
    o.env[o.nenv++] = home;
  }
  o.env[o.nenv] = NULL;
  if (o.cwd && *o.cwd) {
    // as Docker: a missing working directory is made (by root, before the user change)
    int newroot = open("/", O_PATH | O_CLOEXEC);
    int fd = ensure(newroot, o.cwd, 1);
    if (fd < 0) child_fail(EXIT_SETUP, "cannot create working directory %s: %s", o.cwd, strerror(errno));
    close(fd);
    close(newroot);
  }

  if (o.tty) {
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) < 0) child_fail(EXIT_SETUP, "cannot open a terminal: %s", strerror(errno));
    char name[64];
    if (ptsname_r(master, name, sizeof name) != 0) child_fail(EXIT_SETUP, "ptsname: %s", strerror(errno));
    // the caller's size before the command runs: the supervisor's copy comes only after
    // the exec, too late for a command that asks at once (stty size)
    copy_winsize(master);
    int slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) child_fail(EXIT_SETUP, "%s: %s", name, strerror(errno));
    if (send_fd(tty_sock, master, 't') < 0) child_fail(EXIT_SETUP, "sending the terminal: %s", strerror(errno));
    close(master);
    setsid();
    if (ioctl(slave, TIOCSCTTY, 0) < 0) child_fail(EXIT_SETUP, "TIOCSCTTY: %s", strerror(errno));
    dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
    if (slave > 2) close(slave);
  } else {
    setsid();
    if (!o.stdin_open) {
      int nul = open("/dev/null", O_RDONLY);
      if (nul >= 0) { dup2(nul, 0); close(nul); }
    }
  }
  close(tty_sock);

  // /proc/sys/kernel/cap_last_cap is read-only now, not gone
  drop_caps();
  if (o.can_setgroups || !o.userns) {
    if (setgroups((size_t)u.ngroups, u.groups) < 0) {
      // EINVAL: one of the groups has no id in this user namespace
      if (errno == EINVAL && o.userns) child_fail(EXIT_SETUP, "a group of the user (%u) is not mapped in the user namespace (outside the /etc/subgid range?)", u.gid);
      child_fail(EXIT_SETUP, "setgroups: %s", strerror(errno));
    }
  }
  if (setgid(u.gid) < 0) child_fail(EXIT_SETUP, "group %u is not mapped in the user namespace (no /etc/subgid range?): %s", u.gid, strerror(errno));
  if (setuid(u.uid) < 0) child_fail(EXIT_SETUP, "user %u is not mapped in the user namespace (no /etc/subuid range?): %s", u.uid, strerror(errno));
  if (o.cwd && *o.cwd && chdir(o.cwd) < 0) child_fail(EXIT_SETUP, "cannot change to working directory %s: %s", o.cwd, strerror(errno));
  // after the credential change, which would clear it
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  dprintf(err_fd, "user %u %u\n", u.uid, u.gid);
  exec_command();
}

// ---- the supervisor -------------------------------------------------------------------

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

static void cleanup_mount(pid_t daemon, int sfd) {
  if (umount2(o.rootfs, 0) < 0) umount2(o.rootfs, MNT_DETACH);
  if (daemon <= 0) return;
  // the FUSE daemon exits when its mount goes; give it two seconds
  for (int waited = 0; waited < 2000;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p == daemon || (p < 0 && errno == ECHILD)) return;
    if (p > 0) continue;
    struct pollfd pf = { sfd, POLLIN, 0 };
    if (sfd >= 0) {
      poll(&pf, 1, 50);
      struct signalfd_siginfo si;
      if (pf.revents & POLLIN) { if (read(sfd, &si, sizeof si) < 0) {} }
    } else {
      usleep(50000);
    }
    waited += 50;
  }
  kill(daemon, SIGKILL);
  waitpid(daemon, NULL, 0);
}

static void write_exit(int code) {
  if (!o.exit_file) return;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", o.exit_file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  dprintf(fd, "%d\n", code);
  close(fd);
  rename(tmp, o.exit_file);
}

static void copy_winsize(int master) {
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

static int pump(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN) ? 1 : 0;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, n - off);
    if (w < 0) { if (errno == EINTR) continue; return 1; }
    off += w;
  }
  return 1;
}

// ---- late arguments (--late-args-fd) --------------------------------------------------

// All of fd, to its EOF, as NUL-terminated arguments: a NULL-terminated array whose [0] is
// a stand-in for a program name (parse() starts at [1]); *n is the count after it. The
// strings live as long as the process: o points into them.
static char **read_args(int fd, int *n) {
  size_t cap = 4096, len = 0;
  char *buf = NULL;
  for (;;) {
    if (!buf || len == cap) {
      char *b = realloc(buf, (buf ? (cap *= 2) : cap) + 1);
      if (!b) { fprintf(stderr, "strata-init: out of memory\n"); exit(EXIT_SETUP); }
      buf = b;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  if (len > 0 && buf[len - 1] != 0) buf[len++] = 0;  // a last one without its NUL
  int count = 0;
  for (size_t i = 0; i < len; i++) count += buf[i] == 0;
  char **args = calloc((size_t)count + 2, sizeof *args);
  if (!args) { fprintf(stderr, "strata-init: out of memory\n"); exit(EXIT_SETUP); }
  args[0] = "strata-init";
  char *c = buf;
  for (int i = 1; i <= count; i++, c += strlen(c) + 1) args[i] = c;
  *n = count;
  return args;
}

// Writes n arguments, each with its NUL; 0, or -1 when the reader is gone.
static int write_args(int fd, const char *const *a, int n) {
  for (int i = 0; i < n; i++) {
    const char *p = a[i];
    size_t left = strlen(p) + 1;
    while (left > 0) {
      ssize_t w = write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return -1;
      p += w;
      left -= (size_t)w;
    }
  }
  return 0;
}

// `run -d --rm`: strata removes the record once this process is gone. The waiter is
// forked first, so it stays in the host's namespaces: a process made after the pid
// namespace's init died could not even start threads. In late mode it is forked before
// its command is known: it reads it from a pipe first (nothing: none to run, it exits).

static void start_on_exit(void) {
  int p[2], a[2] = { -1, -1 };
  if (pipe2(p, O_CLOEXEC) < 0) return;
  if (o.late_fd >= 0 && pipe2(a, O_CLOEXEC) < 0) { close(p[0]); close(p[1]); return; }
  pid_t w = fork();
  if (w < 0) return;
  if (w == 0) {
    close(p[1]);
    if (o.status_fd >= 0) close(o.status_fd);
    if (o.late_fd >= 0) close(o.late_fd);
    // its output would land on a terminal strata has left, or in a log about to go
    stdio_to_null();
    if (a[0] >= 0) {
      close(a[1]);
      int n;
      char **args = read_args(a[0], &n);
      close(a[0]);
      if (n == 0) _exit(0);
      if (n > MAXN) n = MAXN;
      for (int i = 0; i < n; i++) o.on_exit[i] = args[i + 1];
      o.non_exit = n;
    }
    int orphaned = wait_eof(p[0]);
    if (o.on_exit_orphaned && !orphaned) _exit(0);
    o.on_exit[o.non_exit] = NULL;
    setsid();
    execvp(o.on_exit[0], (char *const *)o.on_exit);
    _exit(127);
  }
  close(p[0]);
  if (a[0] >= 0) {
    close(a[0]);
    on_exit_args_fd = a[1];
  }
  on_exit_waiter = w;
  // p[1] stays open (close-on-exec) until this process ends; a byte on it says the
  // parent died
  on_exit_fd = p[1];
}

// The waiter's command, once the late arguments have named it (or not: it exits then).
static void send_on_exit_args(void) {
  if (on_exit_args_fd < 0) return;
  if (write_args(on_exit_args_fd, o.on_exit, o.non_exit) < 0) { /* it is gone: nothing to run */ }
  close(on_exit_args_fd);
  on_exit_args_fd = -1;
}

static void usage(void) {
  fprintf(stderr, "usage: strata-init --rootfs DIR --mount ARG... [options] -- CMD [ARG...]\n"
                  "(started by `strata run`; see native/init/strata-init.c)\n");
  exit(2);
}

static void too_many(const char *what) {
  fprintf(stderr, "strata-init: more than %d %s\n", MAXN, what);
  exit(2);
}

static void parse(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage(), ""))
    if (!strcmp(a, "--")) { i++; break; }
    // the rest is strata's command line, shown in ps only (late mode: nothing else there
    // names the container's store)
    else if (!strcmp(a, "--for")) { i = argc; break; }
    else if (!strcmp(a, "--late-args-fd")) o.late_fd = atoi(NEXT());
    else if (!strcmp(a, "--rootfs")) o.rootfs = NEXT();
    else if (!strcmp(a, "--mount")) { if (o.nmount >= MAXN) too_many("mount arguments"); o.mount_argv[o.nmount++] = NEXT(); }
    else if (!strcmp(a, "--mount-log")) o.mount_log = NEXT();
    else if (!strcmp(a, "--mount-serves")) o.mount_serves = 1;
    else if (!strcmp(a, "--fuse-sock")) o.fuse_sock = atoi(NEXT());
    else if (!strcmp(a, "--fuse-opts")) o.fuse_opts = NEXT();
    else if (!strcmp(a, "--fuse-source")) o.fuse_source = NEXT();
    else if (!strcmp(a, "--userns")) o.userns = 1;
    else if (!strcmp(a, "--uidmap")) { if (o.nuidmap >= MAXN) too_many("uid maps"); o.uidmap[o.nuidmap++] = NEXT(); }
    else if (!strcmp(a, "--gidmap")) { if (o.ngidmap >= MAXN) too_many("gid maps"); o.gidmap[o.ngidmap++] = NEXT(); }
    else if (!strcmp(a, "--netns")) o.netns = 1;
    else if (!strcmp(a, "--hostname")) o.hostname = NEXT();
    else if (!strcmp(a, "--env")) { if (o.nenv >= MAXN) too_many("environment variables"); o.env[o.nenv++] = NEXT(); }
    else if (!strcmp(a, "--cwd")) o.cwd = NEXT();
    else if (!strcmp(a, "--user")) o.user = NEXT();
    else if (!strcmp(a, "--tty")) o.tty = 1;
    else if (!strcmp(a, "--stdin")) o.stdin_open = 1;
    else if (!strcmp(a, "--status-fd")) o.status_fd = atoi(NEXT());
    else if (!strcmp(a, "--exit-file")) o.exit_file = NEXT();
    else if (!strcmp(a, "--parent-death")) o.parent_death = 1;
    else if (!strcmp(a, "--on-exit-orphaned")) o.on_exit_orphaned = 1;
    else if (!strcmp(a, "--on-exit")) { if (o.non_exit >= MAXN) too_many("on-exit arguments"); o.on_exit[o.non_exit++] = NEXT(); }
    else if (!strcmp(a, "--bind") || !strcmp(a, "--bind-ro")) {
      if (o.nbind >= MAXN) too_many("binds");
      o.binds[o.nbind].ro = !strcmp(a, "--bind-ro");
      o.binds[o.nbind].src = NEXT();
      o.binds[o.nbind].dst = NEXT();
      o.nbind++;
    } else usage();
#undef NEXT
  }
  o.mount_argv[o.nmount] = NULL;
  o.argv = argv + i;
}

// What a start needs, once the whole command line is known.
static void check_args(void) {
  if (!o.rootfs || (!o.nmount && o.fuse_sock < 0) || !o.argv[0]) usage();
}

// Late mode: starts the mount program (strata's daemon) now, then reads the rest of the
// command line; hands the daemon its log and its own late arguments (the last --mount
// ones) on its stdin and waits for its READY as mount_union does.
static void mount_union_late(void) {
  if (!o.mount_serves || o.fuse_sock >= 0) usage();  // only strata's daemon reads them late
  int ready[2], in[2];
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0) setup_fail("pipe: %s", strerror(errno));
  o.nmount_early = o.nmount;
  pid_t p = spawn_mount_program(ready[1], in[0]);
  // any exit from here until it has its arguments stops it (finish_helpers)
  late_daemon = p;
  close(ready[1]);
  close(in[0]);
  int n;
  char **args = read_args(o.late_fd, &n);
  close(o.late_fd);
  o.late_fd = -1;
  // not needed: the daemon, which waits for its arguments, has mounted nothing
  if (n == 0) exit(0);
  parse(n + 1, args);
  check_args();
  send_on_exit_args();
  const char *log = o.mount_log ? o.mount_log : "/dev/null";
  if (write_args(in[1], &log, 1) == 0) write_args(in[1], o.mount_argv + o.nmount_early, o.nmount - o.nmount_early);
  close(in[1]);
  late_daemon = -1;
  wait_mount_ready(p, ready[0]);
}

int main(int argc, char **argv) {
  parse(argc, argv);
  if (o.late_fd < 0) check_args();
  supervisor_pid = getpid();
  atexit(finish_helpers);
  if (o.status_fd >= 0) fcntl(o.status_fd, F_SETFD, FD_CLOEXEC);
  if (o.late_fd >= 0) fcntl(o.late_fd, F_SETFD, FD_CLOEXEC);
  if (o.fuse_sock >= 0) fcntl(o.fuse_sock, F_SETFD, FD_CLOEXEC);
  const int parent_died = SIGRTMIN;
  if (o.parent_death) {
    pid_t pp = getppid();
    prctl(PR_SET_PDEATHSIG, parent_died);
    if (getppid() != pp) exit(EXIT_SETUP);
  }
  if (o.non_exit || o.late_fd >= 0) start_on_exit();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  int fwd[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, parent_died };
  for (size_t k = 0; k < sizeof fwd / sizeof fwd[0]; k++) sigaddset(&set, fwd[k]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  if (o.userns) enter_userns();
  if (unshare(CLONE_NEWNS) < 0) setup_fail("mount namespace: %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) setup_fail("making mounts private: %s", strerror(errno));
  if (o.late_fd >= 0) {
    mount_union_late();
    start_reaper();
  } else if (o.fuse_sock >= 0) mount_fuse();
  else {
    mount_union();
    start_reaper();
  }
  int flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | (o.netns ? CLONE_NEWNET : 0);
  if (unshare(flags) < 0) { cleanup_mount(daemon_pid, sfd); setup_fail("namespaces: %s", strerror(errno)); }
  if (o.netns) loopback_up();
  if (o.hostname && sethostname(o.hostname, strlen(o.hostname)) < 0) { cleanup_mount(daemon_pid, sfd); setup_fail("sethostname: %s", strerror(errno)); }

  int errp[2], socks[2];
  if (pipe2(errp, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks) < 0) {
    cleanup_mount(daemon_pid, sfd);
    setup_fail("pipe: %s", strerror(errno));
  }
  pid_t child = fork();
  if (child < 0) { cleanup_mount(daemon_pid, sfd); setup_fail("fork: %s", strerror(errno)); }
  if (child == 0) {
    close(errp[0]);
    close(socks[0]);
    close(sfd);
    if (o.status_fd >= 0) close(o.status_fd);
    err_fd = errp[1];
    container_main(socks[1]);
  }
  close(errp[1]);
  close(socks[1]);

  // what the child says before its exec; EOF means exec succeeded
  char msg[1024];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(errp[0], msg + len, sizeof msg - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len >= sizeof msg - 1) break;
  }
  close(errp[0]);
  msg[len] = 0;
  unsigned uid = 0, gid = 0;
  char *fail = strstr(msg, "fail ");
  if (fail || sscanf(msg, "user %u %u", &uid, &gid) != 2) {
    int code = EXIT_SETUP;
    const char *text = "the container process died before starting its command";
    if (fail) {
      char *end;
      code = (int)strtol(fail + 5, &end, 10);
      text = end + 1;
      fail[strcspn(fail, "\n")] = 0;
    }
    waitpid(child, NULL, 0);
    cleanup_mount(daemon_pid, sfd);
    status("error %d %s", code, text);
    if (o.status_fd < 0) fprintf(stderr, "strata: %s\n", text);
    exit(code);
  }

  int master = o.tty ? recv_fd(socks[0]) : -1;
  close(socks[0]);
  status("started %d %d %u %u", child, daemon_pid, uid, gid);
  struct termios saved;
  int raw = 0;
  if (master >= 0) {
    copy_winsize(master);
    if (o.stdin_open && isatty(0) && tcgetattr(0, &saved) == 0) {
      struct termios t = saved;
      cfmakeraw(&t);
      raw = tcsetattr(0, TCSANOW, &t) == 0;
    }
  }

  int code = -1, in_open = master >= 0 && o.stdin_open;
  while (code < 0) {
    struct pollfd pf[3] = { { sfd, POLLIN, 0 }, { master, POLLIN, 0 }, { in_open ? 0 : -1, POLLIN, 0 } };
    if (poll(pf, 3, -1) < 0) { if (errno == EINTR) continue; break; }
    if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!pump(master, 1)) { pf[1].fd = -1; close(master); master = -1; }
    }
    if (pf[2].revents & (POLLIN | POLLHUP)) { if (!pump(0, master)) in_open = 0; }
    if (!(pf[0].revents & POLLIN)) continue;
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != sizeof si) continue;
    int sig = (int)si.ssi_signo;
    if (sig == SIGCHLD) {
      int st;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == child) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        else if (p == daemon_pid) daemon_pid = -1;
      }
    } else if (sig == SIGWINCH) {
      if (master >= 0) copy_winsize(master);
    } else if (sig == parent_died) {
      kill(child, SIGKILL);
      if (on_exit_fd >= 0 && write(on_exit_fd, "o", 1) < 0) {}
    } else {
      kill(child, sig);
    }
  }
  if (master >= 0) {
    // what the command wrote just before it exited
    fcntl(master, F_SETFL, O_NONBLOCK);
    char buf[16384];
    ssize_t n;
    while ((n = read(master, buf, sizeof buf)) > 0) { if (write(1, buf, (size_t)n) < 0) break; }
    close(master);
  }
  if (raw) tcsetattr(0, TCSANOW, &saved);
  cleanup_mount(daemon_pid, sfd);
  write_exit(code < 0 ? EXIT_SETUP : code);
  status("exited %d", code);
  return code < 0 ? EXIT_SETUP : code;
}
