/* Strata's native addon: the syscalls Node lacks (sys.c), a libfuse3 low-level session
 * served by JS (session.c), merged union listings (listing.c) and readdir replies encoded
 * in bulk (dirent.c). */
#include "napi_util.h"

void sys_init(napi_env env, napi_value exports);
void session_init(napi_env env, napi_value exports);
void dirent_init(napi_env env, napi_value exports);
void listing_init(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  sys_init(env, exports);
  session_init(env, exports);
  dirent_init(env, exports);
  listing_init(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
