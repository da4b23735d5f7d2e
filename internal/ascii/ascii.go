// Package ascii holds tests on ASCII text taken eight bytes at a time,
// read as one little-endian word: the time parser and the normaliser's
// number scanner both count on them.
package ascii

// NonDigits returns a word that is zero in every byte of x that is an ASCII
// digit, and not zero in every other byte, except that a byte above one of
// 0xFA or more may be flagged too (a carry): so it is zero exactly when all
// eight bytes are digits, and its lowest non-zero byte is the first
// non-digit. A digit is a byte whose high nibble is 3 and stays 3 when 6 is
// added.
func NonDigits(x uint64) uint64 {
	const hi, six, three = 0xF0F0F0F0F0F0F0F0, 0x0606060606060606, 0x3030303030303030
	return (x&hi ^ three) | ((x+six)&hi ^ three)
}
