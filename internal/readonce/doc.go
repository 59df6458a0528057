// Package readonce reads a file once, front to back, and leaves none of it in the page cache.
//
// A migration reads its export file once. Read through the page cache, every page of it needs
// a page of memory the kernel must find first, and the file stays cached after the run, pushing
// out what other programs had there. On a virtual machine whose host takes unused guest memory
// back (Firecracker's balloon and free page reporting do), finding that memory is the expensive
// part: measured on the 2-core host this project is benchmarked on, reading a 966 MB export
// cold cost 1.4 to 2.1 seconds of system CPU, against 0.07 seconds when the pages already read
// are handed back as the reading goes on, so that the kernel reads ahead into the same few
// megabytes of memory again and again.
//
// A Reader tells the kernel the file is read sequentially (a larger readahead), and every
// [DropEvery] bytes read it drops the pages behind it from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED), and the rest at Close. Both are advice: a file system
// that ignores them (tmpfs) or a platform without them reads as os.File does. Pages other
// processes have mapped, and pages not yet written back, stay.
package readonce
