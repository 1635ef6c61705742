// Fuzz target: directory listing lines (LIST, MLSD, MLST facts) for an entry whose name, link
// target and stat fields come from the input. Names are whatever the filesystem holds, so they
// are hostile too (a local user can create a file called "a\r\n226 Done").
//
// The checks: every LIST and MLSD line ends with "\r\n" and holds no other CR or LF, whatever
// the name and link target (ListingName replaces them); the part the server writes itself
// (permissions, counts, ids, size, date, facts) holds no CR, LF or NUL; any mtime, down to
// INT64_MIN, formats without overflow (the sanitizers check that).
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "listing.h"

using keepftpd_fuzz::EndsWith;
using keepftpd_fuzz::HasCrOrLf;

namespace {

void FillStat(FuzzedDataProvider& fdp, struct stat* st) {
  *st = {};
  // Mostly real file types, sometimes any bits at all.
  static constexpr mode_t kTypes[] = {S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR,
                                      S_IFBLK};
  if (fdp.ConsumeBool()) {
    st->st_mode = fdp.ConsumeIntegral<mode_t>();
  } else {
    st->st_mode = fdp.PickValueInArray(kTypes) | (fdp.ConsumeIntegral<mode_t>() & 07777);
  }
  st->st_nlink = fdp.ConsumeIntegral<nlink_t>();
  st->st_uid = fdp.ConsumeIntegral<uid_t>();
  st->st_gid = fdp.ConsumeIntegral<gid_t>();
  st->st_size = fdp.ConsumeIntegral<off_t>();
  st->st_mtime = fdp.ConsumeIntegral<time_t>();
  st->st_dev = fdp.ConsumeIntegral<dev_t>();
  st->st_ino = fdp.ConsumeIntegral<ino_t>();
}

bool HasLineBytes(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// Facts: "name=value;" repeated, no space (the space separates them from the name), no CR/LF.
void CheckFacts(std::string_view facts) {
  FUZZ_CHECK(!HasLineBytes(facts));
  FUZZ_CHECK(facts.find(' ') == std::string_view::npos);
  FUZZ_CHECK(facts.empty() || facts.back() == ';');
  std::size_t start = 0;
  while (start < facts.size()) {
    std::size_t end = facts.find(';', start);
    FUZZ_CHECK(end != std::string_view::npos);
    std::string_view fact = facts.substr(start, end - start);
    FUZZ_CHECK(fact.find('=') != std::string_view::npos && fact.front() != '=');
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  keepftpd::ListEntry entry;
  FillStat(fdp, &entry.st);
  entry.target_ok = fdp.ConsumeBool();
  if (entry.target_ok) FillStat(fdp, &entry.target_st);
  keepftpd::ListFormat format;
  format.hide_ids = fdp.ConsumeBool();
  format.use_localtime = fdp.ConsumeBool();
  format.now = fdp.ConsumeIntegral<time_t>();
  const keepftpd::MlstFacts facts = keepftpd::MlstFacts::Parse(fdp.ConsumeRandomLengthString(64));
  const auto uid = fdp.ConsumeIntegral<uid_t>();
  const auto gid = fdp.ConsumeIntegral<gid_t>();
  entry.name = fdp.ConsumeRandomLengthString(4096);
  entry.link_target = fdp.ConsumeRemainingBytesAsString();
  const bool is_link = S_ISLNK(entry.st.st_mode);

  // LIST: "<server-made prefix><name>[ -> <target>]\r\n".
  const std::string line = keepftpd::FormatListLine(entry, format);
  FUZZ_CHECK(EndsWith(line, "\r\n"));
  std::string tail = keepftpd::ListingName(entry.name);
  if (is_link) tail += " -> " + keepftpd::ListingName(entry.link_target);
  tail += "\r\n";
  FUZZ_CHECK(EndsWith(line, tail));
  const std::string_view prefix = std::string_view(line).substr(0, line.size() - tail.size());
  FUZZ_CHECK(prefix.size() >= 11);
  FUZZ_CHECK(!HasLineBytes(prefix));
  FUZZ_CHECK(prefix.back() == ' ');
  const std::string_view body = std::string_view(line).substr(0, line.size() - 2);
  FUZZ_CHECK(!HasCrOrLf(body));

  // MLSx facts, and the MLSD line "facts name\r\n".
  const std::string fact_text = keepftpd::FormatMlsxFacts(entry, facts, uid, gid);
  CheckFacts(fact_text);
  const std::string mlsd = keepftpd::FormatMlsdLine(entry, facts, uid, gid);
  FUZZ_CHECK(mlsd == fact_text + " " + keepftpd::ListingName(entry.name) + "\r\n");
  FUZZ_CHECK(!HasCrOrLf(std::string_view(mlsd).substr(0, mlsd.size() - 2)));

  (void)facts.FeatString();
  (void)facts.EnabledString();
  return 0;
}
