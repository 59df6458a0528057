// Package arrowpool is an Arrow memory.Allocator that keeps freed buffers and hands them out
// again. Reading or writing Parquet through Arrow allocates fresh buffers for every record batch
// and column; with Go's allocator each of them becomes garbage when the batch is released, and
// the garbage collector runs the more often for it. A Pool takes those buffers back in
// power-of-two size classes instead, up to a bound on the bytes it holds, so that a stream of
// batches of similar shapes allocates almost nothing after the first few.
//
// Buffers handed out again are zeroed first, like fresh memory. Release returns every kept
// buffer to the underlying allocator; call it when the readers and writers using the pool are
// done (tests wrap a checked allocator and assert it ends at zero after Release).
package arrowpool
