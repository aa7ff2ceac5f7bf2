/* Strict IEEE evaluation for the bit-exact ports: no fused multiply-add. */
#ifndef WARD_ECHO_FPSTRICT_H
#define WARD_ECHO_FPSTRICT_H

/*
 * The reproduced libraries (OpenCV, numpy) compute a*b + c with a rounding
 * after the product. A compiler allowed to contract that into an FMA (clang's
 * default, or gcc in GNU mode on an FMA target) would change the last bits
 * and with them k-means decisions. gcc in ISO mode (-std=c17, as the Makefile
 * uses) already defaults to -ffp-contract=off.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__)
#pragma GCC optimize("fp-contract=off")
#endif

#endif
