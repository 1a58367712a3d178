// Package crashtest holds the kill -9 test of the file_tail receiver: the
// receiver runs in a child process (the test binary itself) that is killed
// repeatedly while files are appended, and every line must still arrive.
package crashtest // import "github.com/sluicelogs/sluice/receiver/filetailreceiver/internal/crashtest"
