// keepftpd --from-vsftpd: a vsftpd configuration turned into keepftpd's, with a report that
// says what maps one to one, what changed meaning, what moved to the socket unit or xinetd, and
// what needs the administrator's decision. Pure text in, text out; run by an administrator from
// the command line (main.cc reads and writes the files).
#ifndef KEEPFTPD_SRC_ENTRY_MIGRATE_H_
#define KEEPFTPD_SRC_ENTRY_MIGRATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace keepftpd {

struct Migration {
  std::string keepftpd_conf;  // keepftpd.conf: the input's lines, converted or commented out
  std::string socket_dropin;  // ftp.socket.d/override.conf
  std::string xinetd_entry;   // /etc/xinetd.d/keepftpd
  // The report, one line per item, "line N: ..." where a line of the input is meant.
  std::vector<std::string> same;     // options kept one to one
  std::vector<std::string> changed;  // kept, or defaulted, with a different meaning or default
  std::vector<std::string> moved;    // now the socket unit's or xinetd's
  std::vector<std::string> decide;   // left out or chosen safely: the administrator must look
  // Files the converted configuration still reads from the vsftpd package or by vsftpd's names,
  // each with the commands that make keepftpd independent of them (VsftpdDependencies).
  std::vector<std::string> from_vsftpd;
};

// input_name: for comments and messages. pam_service_exists: whether /etc/pam.d/NAME exists
// (asked only for the service the converted file would use).
Migration MigrateVsftpdConfig(std::string_view text, std::string_view input_name,
                              bool (*pam_service_exists)(std::string_view name));

// What the machine says of the vsftpd package, for VsftpdDependencies.
struct VsftpdPackage {
  bool installed = false;          // its file list was found (dpkg's)
  std::vector<std::string> files;  // that list: every path the package installed
};

// Whether path is vsftpd's: a file or directory of its package (the list where the package is
// installed, else the paths its Debian and Fedora packages install that other configurations
// name: /etc/ftpusers, /var/ftp), or named after it (a component with "vsftpd" in it, such as
// /etc/vsftpd.user_list, /etc/vsftpd/, /etc/ssl/private/vsftpd.pem, /var/run/vsftpd/empty).
bool IsVsftpdPath(std::string_view path, const VsftpdPackage& package);

// The files and directories that config (the converted file's) still takes from vsftpd, each
// with the exact commands that make keepftpd independent of it: the PAM service and the files it
// reads (pam_text: /etc/pam.d/NAME's content, "" when there is none), the lists, the banner,
// the certificate and key, the transfer log, secure_chroot_dir, user_config_dir.
std::vector<std::string> VsftpdDependencies(const Config& config, std::string_view pam_text,
                                            const VsftpdPackage& package);

// The report as printed: the four sections, and how to install the files from out_dir.
std::string FormatMigrationReport(const Migration& m, std::string_view out_dir);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_ENTRY_MIGRATE_H_
