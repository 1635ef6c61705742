// LoadPam for the keepftpd binary, which is not linked with libpam: it is loaded with dlopen, and
// each PAM function keepftpd calls is defined here, by its own name and prototype (the compiler
// checks them against PAM's headers), as dynamic_library.h says. PAM's modules find libpam's own
// functions through their own link to it, never keepftpd's (which the binary does not export).
#include "pam_library.h"

#include <security/pam_appl.h>

#include "dynamic_library.h"

// Every PAM function keepftpd uses: return type, name, parameters, arguments.
#define KEEPFTPD_PAM_FUNCTIONS(X)                                                               \
  X(int, pam_start,                                                                             \
    (const char* service, const char* user, const struct pam_conv* conv, pam_handle_t** pamh),  \
    (service, user, conv, pamh))                                                                \
  X(int, pam_end, (pam_handle_t * pamh, int status), (pamh, status))                            \
  X(int, pam_set_item, (pam_handle_t * pamh, int type, const void* item), (pamh, type, item))   \
  X(int, pam_get_item, (const pam_handle_t* pamh, int type, const void** item),                 \
    (pamh, type, item))                                                                         \
  X(const char*, pam_strerror, (pam_handle_t * pamh, int errnum), (pamh, errnum))               \
  X(int, pam_authenticate, (pam_handle_t * pamh, int flags), (pamh, flags))                     \
  X(int, pam_acct_mgmt, (pam_handle_t * pamh, int flags), (pamh, flags))                        \
  X(int, pam_setcred, (pam_handle_t * pamh, int flags), (pamh, flags))                          \
  X(int, pam_open_session, (pam_handle_t * pamh, int flags), (pamh, flags))                     \
  X(int, pam_close_session, (pam_handle_t * pamh, int flags), (pamh, flags))

namespace {

struct Functions {
  KEEPFTPD_PAM_FUNCTIONS(KEEPFTPD_DYNAMIC_POINTER)
};
Functions g_pam;

}  // namespace

#define KEEPFTPD_DEFINE(ret, name, params, args)                            \
  extern "C" ret name params {                                              \
    return keepftpd::dynamic::Loaded(g_pam.name, "Linux-PAM", #name) args;  \
  }
KEEPFTPD_PAM_FUNCTIONS(KEEPFTPD_DEFINE)
#undef KEEPFTPD_DEFINE

namespace keepftpd {

Status LoadPam() {
  static const Status loaded = dynamic::Load(
      "libpam.so.0", "Linux-PAM", 0, &g_pam, [](void* handle, const char* file, Functions& table) {
        Status s = Status::Ok();
        KEEPFTPD_PAM_FUNCTIONS(KEEPFTPD_DYNAMIC_RESOLVE)
        return s;
      });
  return loaded;
}

}  // namespace keepftpd
