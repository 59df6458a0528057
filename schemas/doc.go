// Package schemas defines the Arrow schema of every file the pipeline stages exchange, and typed
// streaming writers and readers for them.
//
// # Staged files
//
// Stages talk only through Parquet files in a run directory. Each file has one schema, declared
// here once as a [Spec]: a name, a version, the Arrow schema, and the Go row type it maps to
// (for example [Users] maps extract/users.parquet to [User]). A stage writes rows with
// [NewWriter] and reads them back with [Open] or [NewReader]; both stream record batches, so no
// stage ever needs a whole file in memory.
//
// # File format
//
// Files are written with zstd compression (level 1; scratch files that the same process reads
// back once may choose otherwise with [WithCompression] and [WithoutStatistics]), row groups cut
// at [DefaultRowGroupRows] rows,
// and the Arrow schema stored in the footer so that timestamps and nested types read back
// exactly. Dictionary encoding is used for the low-cardinality string columns only (status,
// reason, rule...), and for a row group only while it has few distinct values; ids, emails and
// metadata are plain. Min/max statistics are kept for numbers, times, flags and dictionary
// columns, not for plain strings: ids, emails, names and JSON are in no useful order, so their
// bounds would prune nothing, and comparing every value cost about 5% of the CPU of extract plus
// transform on 1M users. The writer drives Parquet's column writers directly (no Arrow builders) and
// writes what pqarrow's writer would for the same Arrow schema; a test compares the two. Every file carries four key-value metadata entries:
// [MetaSchemaName], [MetaSchemaVersion], [MetaToolVersion] and [MetaRunID]. A reader refuses a file
// whose schema name or version is not the one it expects, naming the file and both versions.
//
// Nested user data (emails, phone numbers, providers, factor registrations) stays structured as
// Arrow lists of structs; metadata objects are kept as JSON text, byte for byte. An empty string in
// an optional column is written as null and read back as the empty string; a nil slice is written
// as a null list and an empty, non-nil slice as an empty list, so both read back as written.
//
// # Ownership
//
// Rows handed to a Writer are copied into the writer's column buffers before Append returns. Rows returned by a
// Reader own their strings and slices: copying the value (v := *r.Row()) is always safe, even after
// the reader moves on or is closed. Whoever creates a Writer or Reader must Close it.
package schemas
