// Local-user logins through Linux-PAM, and the vsftpd rules around them. Monitor only.
#include "auth.h"

#include <security/pam_appl.h>
#include <string.h>
#include <unistd.h>

#include <cstdlib>

#include "login_rules.h"
#include "pam_library.h"

namespace keepftpd {

namespace {

struct Credentials {
  const std::string* user;
  const std::string* password;
};

// Answers PAM's prompts with the credentials data points to: the password for hidden prompts,
// the user name for visible ones. Without them (data null: after authentication), messages are
// accepted and prompts are not answered. Nothing is allocated unless every message can be.
int Converse(int count, const pam_message** messages, pam_response** responses, void* data) {
  const auto* creds = static_cast<const Credentials*>(data);
  if (count <= 0 || count > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  for (int i = 0; i < count; ++i) {
    const int style = messages[i]->msg_style;
    const bool prompt = style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON;
    if (style != PAM_ERROR_MSG && style != PAM_TEXT_INFO && !(prompt && creds != nullptr)) {
      return PAM_CONV_ERR;
    }
  }
  auto* out = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(count),
                                                     sizeof(pam_response)));
  if (out == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < count && creds != nullptr; ++i) {
    const int style = messages[i]->msg_style;
    // PAM frees (and should wipe) the answers.
    if (style == PAM_PROMPT_ECHO_OFF) out[i].resp = strdup(creds->password->c_str());
    if (style == PAM_PROMPT_ECHO_ON) out[i].resp = strdup(creds->user->c_str());
  }
  *responses = out;
  return PAM_SUCCESS;
}

const pam_conv kNoSecrets = {Converse, nullptr};

}  // namespace

bool PamOpenSession(pam_handle_t* pamh, std::string* reason) {
  int rc = pam_open_session(pamh, 0);
  if (rc != PAM_SUCCESS) *reason = std::string("pam_open_session: ") + pam_strerror(pamh, rc);
  return rc == PAM_SUCCESS;
}

void PamCloseSession(pam_handle_t* pamh) {
  int rc = pam_close_session(pamh, 0);
  pam_setcred(pamh, PAM_DELETE_CRED);
  pam_end(pamh, rc);
}

void PamEnd(pam_handle_t* pamh) { pam_end(pamh, PAM_SUCCESS); }

PamResult PamLogin(const std::string& service, const std::string& user,
                   const std::string& password, const std::string& rhost,
                   pam_handle_t** keep) {
  PamResult result;
  if (Status loaded = LoadPam(); !loaded.ok()) {
    result.reason = loaded.message();
    return result;
  }
  Credentials creds{&user, &password};
  pam_conv conv{Converse, &creds};
  pam_handle_t* pamh = nullptr;
  int rc = pam_start(service.c_str(), user.c_str(), &conv, &pamh);
  if (rc != PAM_SUCCESS) {
    result.reason = "pam_start: " + std::string(pam_strerror(pamh, rc));
    return result;
  }
  const char* step = "pam_set_item";
  rc = pam_set_item(pamh, PAM_RHOST, rhost.c_str());
  if (rc == PAM_SUCCESS) rc = pam_set_item(pamh, PAM_TTY, "ftp");
  if (rc == PAM_SUCCESS) {
    step = "pam_authenticate";
    rc = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
  }
  if (rc == PAM_SUCCESS) {
    step = "pam_acct_mgmt";
    rc = pam_acct_mgmt(pamh, 0);
  }
  if (rc == PAM_SUCCESS) {
    step = "pam_setcred";
    rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
  }
  if (rc == PAM_SUCCESS) {
    const void* item = nullptr;
    const bool named = pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item != nullptr;
    result.user = named ? static_cast<const char*>(item) : user;
    result.ok = true;
  } else {
    result.reason = std::string(step) + ": " + pam_strerror(pamh, rc);
  }
  if (keep != nullptr && result.ok &&
      pam_set_item(pamh, PAM_CONV, &kNoSecrets) == PAM_SUCCESS) {
    *keep = pamh;
    return result;
  }
  pam_end(pamh, rc);
  return result;
}

bool ShellIsListed(const std::string& shell) {
  bool found = false;
  setusershell();
  while (const char* s = getusershell()) {
    if (shell == s) {
      found = true;
      break;
    }
  }
  endusershell();
  return found;
}

namespace {

// path with every user_sub_token in it replaced by the user name.
std::string WithUser(std::string path, const std::string& token, const std::string& user) {
  for (std::size_t pos = token.empty() ? std::string::npos : path.find(token);
       pos != std::string::npos; pos = path.find(token, pos + user.size())) {
    path.replace(pos, token.size(), user);
  }
  return path;
}

}  // namespace

JailPlace PlaceLocalUser(const Config& config, const std::vector<std::string>& chroot_list,
                         const std::string& user, const std::string& home) {
  const std::string dir =
      config.local_root.empty() ? home : WithUser(config.local_root, config.user_sub_token, user);
  JailPlace place;
  place.chrooted = config.chroot_local_user;
  if (config.chroot_list_enable && InNameList(chroot_list, user)) place.chrooted = !place.chrooted;
  std::size_t mark = dir.find("/./");
  if (place.chrooted) {
    if (config.passwd_chroot_enable && mark != std::string::npos) {
      place.root = dir.substr(0, mark);
      place.start = dir.substr(mark + 2);
      if (place.root.empty()) place.root = "/";
    } else {
      place.root = dir;
      place.start = "/";
    }
  } else {
    place.root = "/";
    place.start = mark == std::string::npos ? dir : dir.substr(0, mark) + dir.substr(mark + 2);
  }
  if (place.chrooted && !config.chroot_start_dir.empty()) {
    place.start = (place.start == "/" ? "" : place.start) + "/" +
                  WithUser(config.chroot_start_dir, config.user_sub_token, user);
  }
  return place;
}

}  // namespace keepftpd
