#include "textflag.h"

// func masksAVX2(src *byte, blocks int, quote, backslash, dirty *uint64) (anyBackslash uint64)
TEXT ·masksAVX2(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ quote+16(FP), DI
	MOVQ backslash+24(FP), R8
	MOVQ dirty+32(FP), R9
	XORQ R10, R10 // the OR of the backslash masks
	TESTQ CX, CX
	JZ   done

	MOVQ         $0x22, AX
	MOVQ         AX, X0
	VPBROADCASTB X0, Y0 // '"'
	MOVQ         $0x5c, AX
	MOVQ         AX, X1
	VPBROADCASTB X1, Y1 // '\\'
	MOVQ         $0x1f, AX
	MOVQ         AX, X2
	VPBROADCASTB X2, Y2 // 0x1f

loop:
	VMOVDQU (SI), Y3
	VMOVDQU 32(SI), Y4

	VPCMPEQB  Y0, Y3, Y5
	VPMOVMSKB Y5, AX
	VPCMPEQB  Y0, Y4, Y6
	VPMOVMSKB Y6, BX
	SHLQ      $32, BX
	ORQ       BX, AX
	MOVQ      AX, (DI)

	VPCMPEQB  Y1, Y3, Y5
	VPMOVMSKB Y5, AX
	VPCMPEQB  Y1, Y4, Y6
	VPMOVMSKB Y6, BX
	SHLQ      $32, BX
	ORQ       BX, AX
	MOVQ      AX, (R8)
	ORQ       AX, R10

	// Dirty: a backslash (Y5, Y6 still hold those) or a byte below
	// 0x20, that is one that min(byte, 0x1f) leaves as it is.
	VPMINUB   Y2, Y3, Y7
	VPCMPEQB  Y3, Y7, Y7
	VPOR      Y5, Y7, Y7
	VPMOVMSKB Y7, AX
	VPMINUB   Y2, Y4, Y8
	VPCMPEQB  Y4, Y8, Y8
	VPOR      Y6, Y8, Y8
	VPMOVMSKB Y8, BX
	SHLQ      $32, BX
	ORQ       BX, AX
	MOVQ      AX, (R9)

	ADDQ $64, SI
	ADDQ $8, DI
	ADDQ $8, R8
	ADDQ $8, R9
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	MOVQ R10, anyBackslash+40(FP)
	RET
