// keepftpd --from-vsftpd: a vsftpd configuration turned into keepftpd's, with a report that
// says what maps one to one, what changed meaning, what moved to the socket unit or xinetd, and
// what needs the administrator's decision. Pure text in, text out; run by an administrator from
// the command line (main.cc reads and writes the files).
#ifndef KEEPFTPD_SRC_ENTRY_MIGRATE_H_
#define KEEPFTPD_SRC_ENTRY_MIGRATE_H_

#include <string>
#include <string_view>
#include <vector>

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
};

// input_name: for comments and messages. pam_service_exists: whether /etc/pam.d/NAME exists
// (asked only for the service the converted file would use).
Migration MigrateVsftpdConfig(std::string_view text, std::string_view input_name,
                              bool (*pam_service_exists)(std::string_view name));

// The report as printed: the four sections, and how to install the files from out_dir.
std::string FormatMigrationReport(const Migration& m, std::string_view out_dir);

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_ENTRY_MIGRATE_H_
