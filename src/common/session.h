// What the entry process learns about one connection before it forks anything: the addresses,
// the resolved accounts and the files read with privilege (banner). Plain data, read by the
// monitor and inherited read-only by the jails.
#ifndef KEEPFTPD_SRC_COMMON_SESSION_H_
#define KEEPFTPD_SRC_COMMON_SESSION_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "sockaddr.h"

namespace keepftpd {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct SessionInfo {
  int control_fd = -1;       // the client's control connection
  bool rootless = false;     // run_as_launching_user: every process is the launching user's
  SockAddr peer;             // its remote end
  SockAddr local;            // its local end (PASV listens here)
  // proxy_protocol: the balancer that relayed the connection (its original remote end, one of
  // proxy_trusted_addresses) once its PROXY header made peer the client's address; unset
  // (AF_UNSPEC) otherwise. Passive data connections forwarded by it come from this address.
  SockAddr proxy;
  std::string session_id;    // 32 hex digits, FTP_SESSION in logs
  std::string banner_text;   // banner_file contents, read before any jail
  Account nopriv;            // nopriv_user: runs the pre-login jail (rootless: the launching user)
  Account anonymous;         // ftp_username: runs anonymous sessions
  Account chown_owner;       // chown_username (may be root), with chown_uploads
  std::string anon_root;     // anon_root, or the ftp user's home
  std::vector<std::string> user_list;    // userlist_file, when userlist_enable
  std::vector<std::string> chroot_list;  // chroot_list_file, when chroot_list_enable
  std::vector<std::string> banned_emails;    // banned_email_file, when deny_email_enable
  std::vector<std::string> email_passwords;  // email_password_file, with secure_email_list_enable
};

// Names from the user database, looked up by the monitor before the session's chroot (there
// is no NSS inside it): for text_userdb_names and tilde_user_enable.
struct UserDb {
  std::map<uid_t, std::string> user_names;
  std::map<gid_t, std::string> group_names;
  std::map<std::string, std::string> homes;
};
inline constexpr std::size_t kMaxUserDbEntries = 100000;

// Who is logged in, as the session jail needs to know it.
struct SessionUser {
  bool anonymous = true;     // anonymous rights (anonymous users, virtual users by default)
  bool anonymous_login = true;  // USER anonymous/ftp itself (chown_uploads applies)
  bool chrooted = true;
  bool tls_active = false;    // the control connection is relayed by a TLS jail
  bool prot_private = false;  // PROT P was given before login
  std::string name;
  std::string home;          // local users: their home directory (for "~")
  std::string start = "/";   // the first directory, inside the jail's root
  UserDb userdb;             // filled only when an option needs it
};

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_SESSION_H_
