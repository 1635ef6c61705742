// quotafs: a FUSE pass-through file system over a directory that refuses writes with EDQUOT
// once a byte budget is used up, as a user's disk quota would. For the upload tests only
// (this kernel has no quota support for tmpfs or ext4 to test with). With QUOTAFS_NFS=1 in its
// environment it also behaves as an NFS client does where keepftpd cares: every renameat2 flag
// is refused with EINVAL (CephFS does that too), and flock(2) becomes a whole-file lock that
// needs a descriptor open for writing to be exclusive (EBADF otherwise). Like NFS's "silly
// rename", libfuse keeps a removed file that is still open under a .fuse_hidden name.
//   quotafs BACKING_DIR BUDGET_BYTES MOUNTPOINT [fuse options]
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace {

std::string g_backing;
long long g_budget = 0;
std::atomic<long long> g_written{0};
bool g_nfs = false;

std::string Real(const char* path) { return g_backing + path; }
int Err(int rc) { return rc < 0 ? -errno : rc; }

// New files and directories belong to the caller, as on a real file system.
void GiveToCaller(const std::string& path) {
  fuse_context* ctx = fuse_get_context();
  lchown(path.c_str(), ctx->uid, ctx->gid);
}

int GetAttr(const char* path, struct stat* st, fuse_file_info*) {
  return Err(lstat(Real(path).c_str(), st));
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
            fuse_readdir_flags) {
  DIR* d = opendir(Real(path).c_str());
  if (d == nullptr) return -errno;
  while (dirent* e = readdir(d)) fill(buf, e->d_name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  closedir(d);
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  int fd = open(Real(path).c_str(), fi->flags);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  int fd = open(Real(path).c_str(), fi->flags, mode);
  if (fd < 0) return -errno;
  GiveToCaller(Real(path));
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  return Err(static_cast<int>(pread(static_cast<int>(fi->fh), buf, size, off)));
}

int Write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  if (g_written.load() + static_cast<long long>(size) > g_budget) return -EDQUOT;
  ssize_t n = pwrite(static_cast<int>(fi->fh), buf, size, off);
  if (n < 0) return -errno;
  g_written += n;
  return static_cast<int>(n);
}

int Release(const char*, fuse_file_info* fi) { return Err(close(static_cast<int>(fi->fh))); }
int Fsync(const char*, int, fuse_file_info* fi) { return Err(fsync(static_cast<int>(fi->fh))); }
int Unlink(const char* path) { return Err(unlink(Real(path).c_str())); }
int Rmdir(const char* path) { return Err(rmdir(Real(path).c_str())); }
int Mkdir(const char* path, mode_t mode) {
  int rc = mkdir(Real(path).c_str(), mode);
  if (rc == 0) GiveToCaller(Real(path));
  return Err(rc);
}
int Rename(const char* from, const char* to, unsigned flags) {
  if (flags != 0 && g_nfs) return -EINVAL;
  return Err(renameat2(AT_FDCWD, Real(from).c_str(), AT_FDCWD, Real(to).c_str(), flags));
}
int Link(const char* from, const char* to) {
  return Err(link(Real(from).c_str(), Real(to).c_str()));
}
int Chmod(const char* path, mode_t mode, fuse_file_info*) {
  return Err(chmod(Real(path).c_str(), mode));
}
int Chown(const char* path, uid_t uid, gid_t gid, fuse_file_info*) {
  return Err(lchown(Real(path).c_str(), uid, gid));
}
int Truncate(const char* path, off_t size, fuse_file_info*) {
  return Err(truncate(Real(path).c_str(), size));
}
int Utimens(const char* path, const timespec tv[2], fuse_file_info*) {
  return Err(utimensat(AT_FDCWD, Real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}
int StatFs(const char* path, struct statvfs* st) { return Err(statvfs(Real(path).c_str(), st)); }
// Each open of this file system is an open of the backing file, so flock on the backing
// descriptor gives each open file description its own lock, as on a local file system.
int Flock(const char*, fuse_file_info* fi, int op) {
  const int fd = static_cast<int>(fi->fh);
  if (g_nfs && (op & LOCK_EX) != 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) return -EBADF;
  return Err(flock(fd, op));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: quotafs BACKING_DIR BUDGET_BYTES MOUNTPOINT [fuse options]\n");
    return 2;
  }
  g_backing = argv[1];
  g_budget = std::atoll(argv[2]);
  const char* nfs = std::getenv("QUOTAFS_NFS");
  g_nfs = nfs != nullptr && std::string(nfs) == "1";
  static fuse_operations ops = {};
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write = Write;
  ops.release = Release;
  ops.fsync = Fsync;
  ops.unlink = Unlink;
  ops.rmdir = Rmdir;
  ops.mkdir = Mkdir;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = Chmod;
  ops.chown = Chown;
  ops.truncate = Truncate;
  ops.utimens = Utimens;
  ops.statfs = StatFs;
  ops.flock = Flock;
  // argv for fuse_main: program, mountpoint, options.
  char** fargs = new char*[static_cast<size_t>(argc - 1)];
  fargs[0] = argv[0];
  for (int i = 3; i < argc; ++i) fargs[i - 2] = argv[i];
  return fuse_main(argc - 2, fargs, &ops, nullptr);
}
