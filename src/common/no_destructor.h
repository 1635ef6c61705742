// NoDestructor<T>: a function-local static that is built on first use and never destroyed, so
// that code running during exit (Fatal, a log record) never meets it half torn down. Placement
// construction in the object's own storage: no heap, nothing to free. Shared by every process.
#ifndef KEEPFTPD_SRC_COMMON_NO_DESTRUCTOR_H_
#define KEEPFTPD_SRC_COMMON_NO_DESTRUCTOR_H_

#include <new>
#include <utility>

namespace keepftpd {

template <typename T>
class NoDestructor {
 public:
  template <typename... Args>
  explicit NoDestructor(Args&&... args) {
    new (storage_) T(std::forward<Args>(args)...);
  }
  NoDestructor(const NoDestructor&) = delete;
  NoDestructor& operator=(const NoDestructor&) = delete;
  ~NoDestructor() = default;  // T's destructor never runs

  T& operator*() { return *get(); }
  T* operator->() { return get(); }
  T* get() { return std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace keepftpd

#endif  // KEEPFTPD_SRC_COMMON_NO_DESTRUCTOR_H_
