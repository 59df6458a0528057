// Package schemastest writes staged files for tests through the schemas package's own writer,
// so that every package's tests set up run directories the way the stages write them. (The
// schemas package's own tests cannot import it and keep their helper.)
package schemastest
