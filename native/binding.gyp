{
  "targets": [
    {
      "target_name": "strata",
      "sources": ["src/addon.c", "src/napi_util.c", "src/sys.c", "src/session.c", "src/dirent.c", "src/listing.c", "src/inoset.c", "src/lowerfiles.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2", "-D_GNU_SOURCE", "-D_FILE_OFFSET_BITS=64"],
      "cflags_c": ["-std=gnu11"],
      "include_dirs": ["<!@(pkg-config --cflags-only-I fuse3 | sed s/-I//g)"],
      "libraries": ["<!@(pkg-config --libs fuse3)", "-lpthread"],
      "defines": ["FUSE_USE_VERSION=314", "NAPI_VERSION=8"]
    },
    {
      "target_name": "strata-init",
      "type": "executable",
      "sources": ["init/strata-init.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-D_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
