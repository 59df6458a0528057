package readonce

import (
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// cachedFraction returns the fraction of path's pages in [off, off+n) that are in the page
// cache, and whether the platform can tell.
func cachedFraction(t *testing.T, path string, off, n int64) (float64, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), off, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (n+page-1)/page)
	// The standard library has no mincore wrapper; the system call is the same everywhere.
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	cached := 0
	for _, v := range vec {
		cached += int(v & 1)
	}
	return float64(cached) / float64(len(vec)), true
}
