/* Request kinds handed to JS; mirrored by src/fuse/native.ts (enum Op). */
#ifndef STRATA_OPS_H
#define STRATA_OPS_H
enum strata_op {
  OP_LOOKUP = 1,
  OP_FORGET = 2,
  OP_GETATTR = 3,
  OP_SETATTR = 4,
  OP_READLINK = 5,
  OP_MKNOD = 6,
  OP_MKDIR = 7,
  OP_UNLINK = 8,
  OP_RMDIR = 9,
  OP_SYMLINK = 10,
  OP_RENAME = 11,
  OP_LINK = 12,
  OP_OPEN = 13,
  OP_READ = 14,
  OP_WRITE = 15,
  OP_FLUSH = 16,
  OP_RELEASE = 17,
  OP_FSYNC = 18,
  OP_OPENDIR = 19,
  OP_READDIR = 20,
  OP_RELEASEDIR = 21,
  OP_FSYNCDIR = 22,
  OP_STATFS = 23,
  OP_SETXATTR = 24,
  OP_GETXATTR = 25,
  OP_LISTXATTR = 26,
  OP_REMOVEXATTR = 27,
  OP_ACCESS = 28,
  OP_CREATE = 29,
  OP_FALLOCATE = 30,
  OP_READDIRPLUS = 31,
  OP_COPY_FILE_RANGE = 32,
  OP_LSEEK = 33,
  OP_INIT = 34,    /* not a request: the connection is ready (args: negotiated settings) */
  OP_EXIT = 35,    /* not a request: the session loop ended */
  OP_COUNT         /* the length of mount()'s serves array */
};
#endif
