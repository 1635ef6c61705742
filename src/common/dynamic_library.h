// Libraries keepftpd loads at run time (OpenSSL, Linux-PAM) instead of linking: the binary defines
// each function it calls by the library's own name and prototype, calling the library's through a
// pointer resolved with dlsym. The binary exports none of these names, so the library's own calls
// stay within the library. Loaded only outside jails (the file names where); a jail never loads
// code, it can only inherit what was loaded before it entered its jail.
#ifndef KEEPFTPD_SRC_COMMON_DYNAMIC_LIBRARY_H_
#define KEEPFTPD_SRC_COMMON_DYNAMIC_LIBRARY_H_

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "status.h"

namespace keepftpd::dynamic {

// A call before the library was loaded is a bug in keepftpd: say which, and stop.
template <typename F>
F Loaded(F f, const char* library, const char* name) {
  if (f == nullptr) {
    std::fprintf(stderr, "keepftpd: %s called before %s was loaded\n", name, library);
    std::abort();
  }
  return f;
}

inline Status Open(const char* file, const char* library, int flags, void** handle) {
  *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | flags);
  if (*handle == nullptr) return Status::Error(std::string("cannot load ") + library + ": " + dlerror());
  return Status::Ok();
}

template <typename F>
Status Resolve(void* handle, const char* file, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(handle, name));
  if (*out == nullptr) return Status::Error(std::string(file) + " has no " + name);
  return Status::Ok();
}

}  // namespace keepftpd::dynamic

namespace keepftpd::dynamic {

// Opens `file` (RTLD_NOW | RTLD_LOCAL | flags) and fills a table of pointers with
// fill(handle, file, table); *out gets the table only if every function was found.
template <typename Table, typename Fill>
Status Load(const char* file, const char* library, int flags, Table* out, Fill fill) {
  void* handle = nullptr;
  Status s = Open(file, library, flags, &handle);
  Table table;
  if (s.ok()) s = fill(handle, file, table);
  if (s.ok()) *out = table;
  return s;
}

}  // namespace keepftpd::dynamic

// For a list X(ret, name, params, args): one member of the table of pointers per function, and
// (inside a Load fill function with a Status s) its lookup.
#define KEEPFTPD_DYNAMIC_POINTER(ret, name, params, args) decltype(&::name) name = nullptr;
#define KEEPFTPD_DYNAMIC_RESOLVE(ret, name, params, args) \
  if (s.ok()) s = ::keepftpd::dynamic::Resolve(handle, file, #name, &table.name);

#endif  // KEEPFTPD_SRC_COMMON_DYNAMIC_LIBRARY_H_
