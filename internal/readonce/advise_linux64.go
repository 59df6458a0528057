//go:build linux && (amd64 || arm64 || loong64 || riscv64 || ppc64 || ppc64le || mips64 || mips64le)

package readonce

import (
	"os"
	"syscall"
)

// Advice values of posix_fadvise (include/uapi/linux/fadvise.h; s390x differs and is left out).
const (
	fadvSequential = 2
	fadvDontNeed   = 4
)

// fadvise is posix_fadvise, a system call taking its arguments in this order on the 64-bit
// platforms this file is built for. The standard library has no wrapper for it.
func fadvise(f *os.File, off, n int64, advice int) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), uintptr(off), uintptr(n), uintptr(advice), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// adviseSequential tells the kernel f is read from start to end once.
func adviseSequential(f *os.File) error { return fadvise(f, 0, 0, fadvSequential) }

// dropCached drops f's clean pages in [off, off+n) from the page cache.
func dropCached(f *os.File, off, n int64) error { return fadvise(f, off, n, fadvDontNeed) }
