;; The two passes of cv2.resize(INTER_LINEAR) on packed 8-bit RGB, with WebAssembly SIMD.
;; Source of truth for the arithmetic: linear-resize.ts (and OpenCV's imgproc/src/resize.cpp).
;; The caller lays out memory and keeps 16 bytes of slack after every buffer: a pixel is
;; loaded and stored as 4 lanes, the 4th overwritten by the next pixel.
(module
  (memory (export "memory") 1)

  ;; out[dx*3 + k] = src[row + x0[dx] + k] * alpha[2dx] + src[row + x1[dx] + k] * alpha[2dx+1]   (int32)
  (func (export "horizontal")
        (param $row i32) (param $x0 i32) (param $x1 i32) (param $alpha i32) (param $width i32) (param $out i32)
    (local $dx i32) (local $a0 v128) (local $a1 v128) (local $p0 v128) (local $p1 v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dx) (local.get $width)))
        (local.set $a0 (i32x4.splat (i32.load (local.get $alpha))))
        (local.set $a1 (i32x4.splat (i32.load offset=4 (local.get $alpha))))
        (local.set $p0 (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
          (v128.load32_zero (i32.add (local.get $row) (i32.load (local.get $x0)))))))
        (local.set $p1 (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
          (v128.load32_zero (i32.add (local.get $row) (i32.load (local.get $x1)))))))
        (v128.store (local.get $out)
          (i32x4.add (i32x4.mul (local.get $p0) (local.get $a0)) (i32x4.mul (local.get $p1) (local.get $a1))))
        (local.set $x0 (i32.add (local.get $x0) (i32.const 4)))
        (local.set $x1 (i32.add (local.get $x1) (i32.const 4)))
        (local.set $alpha (i32.add (local.get $alpha) (i32.const 8)))
        (local.set $out (i32.add (local.get $out) (i32.const 12)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 1)))
        (br $next)))
  )

  ;; dst[x] = (((b0 * (s0[x] >> 4)) >> 16) + ((b1 * (s1[x] >> 4)) >> 16) + 2) >> 2, for x < n (bytes)
  (func $lanes (param $s0 i32) (param $s1 i32) (param $b0 v128) (param $b1 v128) (result v128)
    (i32x4.shr_s
      (i32x4.add
        (i32x4.add
          (i32x4.shr_s (i32x4.mul (local.get $b0) (i32x4.shr_s (v128.load (local.get $s0)) (i32.const 4))) (i32.const 16))
          (i32x4.shr_s (i32x4.mul (local.get $b1) (i32x4.shr_s (v128.load (local.get $s1)) (i32.const 4))) (i32.const 16)))
        (i32x4.splat (i32.const 2)))
      (i32.const 2))
  )
  (func (export "vertical")
        (param $s0 i32) (param $s1 i32) (param $b0 i32) (param $b1 i32) (param $dst i32) (param $n i32)
    (local $x i32) (local $vb0 v128) (local $vb1 v128) (local $end16 i32) (local $v i32)
    (local.set $vb0 (i32x4.splat (local.get $b0)))
    (local.set $vb1 (i32x4.splat (local.get $b1)))
    (local.set $end16 (i32.and (local.get $n) (i32.const -16)))
    (block $done16
      (loop $next16
        (br_if $done16 (i32.ge_u (local.get $x) (local.get $end16)))
        ;; 16 results: four i32x4 -> two i16x8 -> one i8x16 (values are 0..255, so narrowing is exact).
        (v128.store (i32.add (local.get $dst) (local.get $x))
          (i8x16.narrow_i16x8_u
            (i16x8.narrow_i32x4_s
              (call $lanes (local.get $s0) (local.get $s1) (local.get $vb0) (local.get $vb1))
              (call $lanes (i32.add (local.get $s0) (i32.const 16)) (i32.add (local.get $s1) (i32.const 16)) (local.get $vb0) (local.get $vb1)))
            (i16x8.narrow_i32x4_s
              (call $lanes (i32.add (local.get $s0) (i32.const 32)) (i32.add (local.get $s1) (i32.const 32)) (local.get $vb0) (local.get $vb1))
              (call $lanes (i32.add (local.get $s0) (i32.const 48)) (i32.add (local.get $s1) (i32.const 48)) (local.get $vb0) (local.get $vb1)))))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 64)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 64)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next16)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $x))
          (i32.shr_s
            (i32.add
              (i32.add
                (i32.shr_s (i32.mul (local.get $b0) (i32.shr_s (i32.load (local.get $s0)) (i32.const 4))) (i32.const 16))
                (i32.shr_s (i32.mul (local.get $b1) (i32.shr_s (i32.load (local.get $s1)) (i32.const 4))) (i32.const 16)))
              (i32.const 2))
            (i32.const 2)))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 4)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $next)))
  )
)
