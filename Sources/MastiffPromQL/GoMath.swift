#if canImport(Glibc)
import Glibc
#endif
import MastiffCore

/// The trigonometric and hyperbolic functions as Go's math package computes them, so that a
/// rule gives the same value here as in Prometheus (ADR 23). glibc's results differ from Go's
/// in the last bit for some arguments (cos, acos, atan among them): the algorithms below are
/// Go's — Cephes polynomials after a reduction by π/4 in three parts, Payne–Hanek reduction for
/// arguments of 2²⁹ and more, arcsine and arccosine through the arctangent — written from their
/// published descriptions and constants. Evaluation order follows Go's (no fused multiply-add,
/// as Go on amd64 computes), because the order decides the last bit.
enum GoMath {
    // π/4 split so that y·PI4A and y·PI4B are exact for y < 2³⁰ (their low bits are zero).
    private static let pi4A = 7.85398125648498535156e-1
    private static let pi4B = 3.77489470793079817668e-8
    private static let pi4C = 2.69515142907905952645e-15
    /// 4/π rounded once (Go folds constant expressions exactly, then rounds).
    private static let fourOverPi = Double(bitPattern: 0x3FF4_5F30_6DC9_C883)
    /// Above this, the three-part reduction loses bits and Payne–Hanek takes over.
    private static let reduceThreshold = Double(1 << 29)

    private static let sinCoefficients = [1.58962301576546568060e-10, -2.50507477628578072866e-8, 2.75573136213857245213e-6,
                                          -1.98412698295895385996e-4, 8.33333333332211858878e-3, -1.66666666666666307295e-1]
    private static let cosCoefficients = [-1.13585365213876817300e-11, 2.08757008419747316778e-9, -2.75573141792967388112e-7,
                                          2.48015872888517045348e-5, -1.38888888888730564116e-3, 4.16666666666665929218e-2]

    /// The octant (mod 8, mapped so that odd octants move to the next even one) and the
    /// remainder of a non-negative `x` by π/4.
    private static func reduce(_ x: Double) -> (octant: UInt64, z: Double) {
        if x >= reduceThreshold { return payneHanek(x) }
        var j = UInt64(x * fourOverPi)
        var y = Double(j)
        if j & 1 == 1 {
            j += 1
            y += 1
        }
        return (j & 7, ((x - y * pi4A) - y * pi4B) - y * pi4C)
    }

    private static func sinPolynomial(_ z: Double, _ zz: Double) -> Double {
        let c = sinCoefficients
        return z + z * zz * (((((c[0] * zz + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5])
    }

    private static func cosPolynomial(_ zz: Double) -> Double {
        let c = cosCoefficients
        return 1.0 - 0.5 * zz + zz * zz * (((((c[0] * zz + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5])
    }

    static func sin(_ argument: Double) -> Double {
        if argument == 0 || argument.isNaN { return argument }
        if argument.isInfinite { return .nan }
        var negative = argument < 0
        var (j, z) = reduce(Swift.abs(argument))
        if j > 3 {
            negative.toggle()
            j -= 4
        }
        let zz = z * z
        let y = j == 1 || j == 2 ? cosPolynomial(zz) : sinPolynomial(z, zz)
        return negative ? -y : y
    }

    static func cos(_ argument: Double) -> Double {
        if argument.isNaN || argument.isInfinite { return .nan }
        var negative = false
        var (j, z) = reduce(Swift.abs(argument))
        if j > 3 {
            j -= 4
            negative.toggle()
        }
        if j > 1 { negative.toggle() }
        let zz = z * z
        let y = j == 1 || j == 2 ? sinPolynomial(z, zz) : cosPolynomial(zz)
        return negative ? -y : y
    }

    static func tan(_ argument: Double) -> Double {
        if argument == 0 || argument.isNaN { return argument }
        if argument.isInfinite { return .nan }
        let p = (-1.30936939181383777646e4, 1.15351664838587416140e6, -1.79565251976484877988e7)
        let q = (1.36812963470692954678e4, -1.32089234440210967447e6, 2.50083801823357915839e7, -5.38695755929454629881e7)
        let (j, z) = reduce(Swift.abs(argument))
        let zz = z * z
        var y = z
        if zz > 1e-14 {
            y = z + z * (zz * ((p.0 * zz + p.1) * zz + p.2) / ((((zz + q.0) * zz + q.1) * zz + q.2) * zz + q.3))
        }
        if j & 2 == 2 { y = -1 / y }
        return argument < 0 ? -y : y
    }

    /// The arctangent on [0, 0.66].
    private static func atanSeries(_ x: Double) -> Double {
        let p = (-8.750608600031904122785e-01, -1.615753718733365076637e+01, -7.500855792314704667340e+01,
                 -1.228866684490136173410e+02, -6.485021904942025371773e+01)
        let q = (2.485846490142306297962e+01, 1.650270098316988542046e+02, 4.328810604912902668951e+02,
                 4.853903996359136964868e+02, 1.945506571482613964425e+02)
        var z = x * x
        z = z * ((((p.0 * z + p.1) * z + p.2) * z + p.3) * z + p.4) / (((((z + q.0) * z + q.1) * z + q.2) * z + q.3) * z + q.4)
        return x * z + x
    }

    /// The arctangent of a positive `x`, reduced to [0, 0.66].
    private static func atanPositive(_ x: Double) -> Double {
        // π/2 = Double.pi/2 + moreBits: the bits a double leaves out.
        let moreBits = 6.123233995736765886130e-17
        let tan3Pi8 = 2.41421356237309504880
        if x <= 0.66 { return atanSeries(x) }
        if x > tan3Pi8 { return Double.pi / 2 - atanSeries(1 / x) + moreBits }
        return Double.pi / 4 + atanSeries((x - 1) / (x + 1)) + 0.5 * moreBits
    }

    static func atan(_ x: Double) -> Double {
        if x == 0 { return x }
        return x > 0 ? atanPositive(x) : -atanPositive(-x)
    }

    static func asin(_ argument: Double) -> Double {
        if argument == 0 { return argument }
        let x = Swift.abs(argument)
        if x > 1 { return .nan }
        var temp = (1 - x * x).squareRoot()
        temp = x > 0.7 ? Double.pi / 2 - atanPositive(temp / x) : atanPositive(x / temp)
        return argument < 0 ? -temp : temp
    }

    static func acos(_ x: Double) -> Double { Double.pi / 2 - asin(x) }

    static func atan2(_ y: Double, _ x: Double) -> Double {
        if y.isNaN || x.isNaN { return .nan }
        if y == 0 { return x >= 0 && x.sign == .plus ? Double(signOf: y, magnitudeOf: 0) : Double(signOf: y, magnitudeOf: .pi) }
        if x == 0 { return Double(signOf: y, magnitudeOf: .pi / 2) }
        if x.isInfinite {
            if x > 0 { return Double(signOf: y, magnitudeOf: y.isInfinite ? .pi / 4 : 0) }
            return Double(signOf: y, magnitudeOf: y.isInfinite ? 3 * .pi / 4 : .pi)
        }
        if y.isInfinite { return Double(signOf: y, magnitudeOf: .pi / 2) }
        let q = atan(y / x)
        if x < 0 { return q <= 0 ? q + .pi : q - .pi }
        return q
    }

    static func sinh(_ argument: Double) -> Double {
        // Hart & Cheney #2029 for |x| ≤ 0.5.
        let p = (-0.6307673640497716991184787251e+6, -0.8991272022039509355398013511e+5, -0.2894211355989563807284660366e+4,
                 -0.2630563213397497062819489e+2)
        let q = (-0.6307673640497716991212077277e+6, 0.1521517378790019070696485176e+5, -0.173678953558233699533450911e+3)
        let x = Swift.abs(argument)
        var temp: Double
        if x > 21 {
            temp = exp(x) * 0.5
        } else if x > 0.5 {
            let ex = exp(x)
            temp = (ex - 1 / ex) * 0.5
        } else {
            let sq = x * x
            temp = (((p.3 * sq + p.2) * sq + p.1) * sq + p.0) * x
            temp = temp / (((sq + q.2) * sq + q.1) * sq + q.0)
        }
        return argument < 0 ? -temp : temp
    }

    static func cosh(_ argument: Double) -> Double {
        let x = Swift.abs(argument)
        if x > 21 { return exp(x) * 0.5 }
        let ex = exp(x)
        return (ex + 1 / ex) * 0.5
    }

    static func tanh(_ x: Double) -> Double {
        let maxLog = 8.8029691931113054295988e+01 // log(2¹²⁷)
        let p = (-9.64399179425052238628E-1, -9.92877231001918586564E1, -1.61468768441708447952E3)
        let q = (1.12811678491632931402E2, 2.23548839060100448583E3, 4.84406305325125486048E3)
        let z = Swift.abs(x)
        if z > 0.5 * maxLog { return x < 0 ? -1 : 1 }
        if z >= 0.625 {
            let s = exp(2 * z)
            let result = 1 - 2 / (s + 1)
            return x < 0 ? -result : result
        }
        if x == 0 { return x }
        let s = x * x
        return x + x * s * ((p.0 * s + p.1) * s + p.2) / (((s + q.0) * s + q.1) * s + q.2)
    }

    private static let ln2 = 6.93147180559945286227e-01

    static func asinh(_ argument: Double) -> Double {
        if argument.isNaN || argument.isInfinite { return argument }
        let x = Swift.abs(argument)
        let temp: Double
        if x > Double(1 << 28) {
            temp = log(x) + ln2
        } else if x > 2 {
            temp = log(2 * x + 1 / ((x * x + 1).squareRoot() + x))
        } else if x < 1.0 / Double(1 << 28) {
            temp = x
        } else {
            temp = log1p(x + x * x / (1 + (1 + x * x).squareRoot()))
        }
        return argument < 0 ? -temp : temp
    }

    static func acosh(_ x: Double) -> Double {
        if x < 1 || x.isNaN { return .nan }
        if x == 1 { return 0 }
        if x >= Double(1 << 28) { return log(x) + ln2 }
        if x > 2 { return log(2 * x - 1 / (x + (x * x - 1).squareRoot())) }
        let t = x - 1
        return log1p(t + (2 * t + t * t).squareRoot())
    }

    static func atanh(_ argument: Double) -> Double {
        if argument < -1 || argument > 1 || argument.isNaN { return .nan }
        if argument == 1 { return .infinity }
        if argument == -1 { return -.infinity }
        let x = Swift.abs(argument)
        var temp: Double
        if x < 1.0 / Double(1 << 28) {
            temp = x
        } else if x < 0.5 {
            temp = x + x
            temp = 0.5 * log1p(temp + temp * x / (1 - x))
        } else {
            temp = 0.5 * log1p((x + x) / (1 - x))
        }
        return argument < 0 ? -temp : temp
    }

    // MARK: Exponential and logarithm

    /// Whether this CPU has AVX and FMA: Go's amd64 Exp then takes its fused multiply-add path,
    /// whose results differ in the last bit from the other one. Prometheus on this host
    /// computes with the same path, so mastiff asks the same question of the same CPU.
    static let cpuHasFMA: Bool = {
        guard let text = try? FileSystemAccess.readFile("/proc/cpuinfo"),
              let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let words = Set(flags.split(separator: " ").map(String.init))
        return words.contains("avx") && words.contains("fma")
    }()

    /// eˣ as Go computes it on amd64 (N. Shibata's method, from SLEEF): x = k·ln2 + r with k
    /// rounded to nearest, r/16 through a Taylor series, squared back four times, times 2ᵏ.
    static func exp(_ x: Double, fused: Bool = cpuHasFMA) -> Double {
        let log2E = 1.4426950408889634073599246810018920
        let ln2Upper = 0.69314718055966295651160180568695068359375
        let ln2Lower = 0.28235290563031577122588448175013436025525412068e-12
        let overflow = 7.09782712893384e+02
        let taylor = [2.4801587301587301587e-5, 1.9841269841269841270e-4, 1.3888888888888888889e-3, 8.3333333333333333333e-3,
                      4.1666666666666666667e-2, 1.6666666666666666667e-1, 0.5, 1.0]
        if x.isNaN || x == .infinity { return x }
        if x == -.infinity { return 0 }
        if x > overflow { return .infinity }
        // CVTSD2SL: rounded to nearest even, the "integer indefinite" Int32.min when out of range.
        let scaled = (log2E * x).rounded(.toNearestOrEven)
        let k = scaled >= -2_147_483_648 && scaled <= 2_147_483_647 ? Int32(scaled) : Int32.min
        let kk = Double(k)
        var r: Double
        var p = taylor[0]
        if fused {
            r = x.addingProduct(-kk, ln2Upper)
            r = r.addingProduct(-kk, ln2Lower)
            r *= 0.0625
            for c in taylor.dropFirst() { p = c.addingProduct(p, r) }
            r *= p
            for _ in 0..<3 { r *= r + 2 }
            r = 1.0.addingProduct(r, r + 2)
        } else {
            r = x - ln2Upper * kk
            r -= ln2Lower * kk
            r *= 0.0625
            for c in taylor.dropFirst() { p = p * r + c }
            r = p * r
            for _ in 0..<4 { r *= r + 2 }
            r += 1
        }
        let biased = Int64(k) + 0x3FF
        if biased <= 0 { return 0 }
        if biased >= 0x7FF { return .infinity }
        return r * Double(bitPattern: UInt64(biased) << 52)
    }

    /// ln x as Go computes it on amd64 (FreeBSD's e_log.c in assembly): x = 2ᵏ·(1+f) with
    /// √2/2 < 1+f ≤ √2, then a polynomial in s = f/(2+f). Subnormal inputs go through the same
    /// bit arithmetic as Go's, so they give Go's value too.
    static func log(_ x: Double) -> Double {
        let hSqrt2 = 7.07106781186547524401e-01
        let ln2Hi = 6.93147180369123816490e-01, ln2Lo = 1.90821492927058770002e-10
        let l = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
                 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
        let bits = x.bitPattern
        if bits & ~(1 << 63) == 0 { return -.infinity }
        if Int64(bitPattern: bits) < 0 { return .nan }
        if bits >= 0x7FF0_0000_0000_0000 { return x }
        var f1 = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FE0_0000_0000_0000)
        var k = Double(Int32((bits >> 52) & 0x7FF) - 0x3FE)
        if !(hSqrt2 < f1) {
            k -= 1
            f1 *= 2
        }
        let f = f1 - 1
        let s = f / (2 + f)
        let s2 = s * s
        let s4 = s2 * s2
        let t1 = s2 * (((l.6 * s4 + l.4) * s4 + l.2) * s4 + l.0)
        let t2 = s4 * ((l.5 * s4 + l.3) * s4 + l.1)
        let r = t1 + t2
        let hfsq = 0.5 * f * f
        return k * ln2Hi - ((hfsq - (s * (hfsq + r) + ln2Lo * k)) - f)
    }

    /// ln(1 + x) as Go computes it (FreeBSD's s_log1p.c): accurate for x near 0. glibc's log1p
    /// differs from it in the last bit for some arguments.
    static func log1p(_ x: Double) -> Double {
        let sqrt2M1 = 4.142135623730950488017e-01, sqrt2HalfM1 = -2.928932188134524755992e-01
        let small = 1.0 / Double(1 << 29), tiny = 1.0 / Double(1 << 54), two53 = Double(1 << 53)
        let ln2Hi = 6.93147180369123816490e-01, ln2Lo = 1.90821492927058770002e-10
        let lp = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
                  1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
        if x < -1 || x.isNaN { return .nan }
        if x == -1 { return -.infinity }
        if x == .infinity { return .infinity }
        let absx = Swift.abs(x)
        var f = 0.0
        var iu: UInt64 = 0
        var k = 1
        if absx < sqrt2M1 {
            if absx < small {
                if absx < tiny { return x }
                return x - x * x * 0.5
            }
            if x > sqrt2HalfM1 {
                k = 0
                f = x
                iu = 1
            }
        }
        var c = 0.0
        if k != 0 {
            var u: Double
            if absx < two53 {
                u = 1.0 + x
                iu = u.bitPattern
                k = Int(Int64(bitPattern: (iu >> 52) &- 1023))
                c = k > 0 ? 1.0 - (u - x) : x - (u - 1.0)
                c /= u
            } else {
                u = x
                iu = u.bitPattern
                k = Int(Int64(bitPattern: (iu >> 52) &- 1023))
                c = 0
            }
            iu &= 0x000F_FFFF_FFFF_FFFF
            if iu < 0x0006_A09E_667F_3BCD {
                u = Double(bitPattern: iu | 0x3FF0_0000_0000_0000)
            } else {
                k += 1
                u = Double(bitPattern: iu | 0x3FE0_0000_0000_0000)
                iu = (0x0010_0000_0000_0000 - iu) >> 2
            }
            f = u - 1.0
        }
        let hfsq = 0.5 * f * f
        let kk = Double(k)
        if iu == 0 {
            if f == 0 {
                if k == 0 { return 0 }
                c += kk * ln2Lo
                return kk * ln2Hi + c
            }
            let r = hfsq * (1.0 - 0.66666666666666666 * f)
            if k == 0 { return f - r }
            return kk * ln2Hi - ((r - (kk * ln2Lo + c)) - f)
        }
        let s = f / (2.0 + f)
        let z = s * s
        let r = z * (lp.0 + z * (lp.1 + z * (lp.2 + z * (lp.3 + z * (lp.4 + z * (lp.5 + z * lp.6))))))
        if k == 0 { return f - (hfsq - s * (hfsq + r)) }
        return kk * ln2Hi - ((hfsq - (s * (hfsq + r) + (kk * ln2Lo + c))) - f)
    }

    /// log₂ x: exact for powers of two, else ln(frac)·(1/ln 2) + exponent.
    static func log2(_ x: Double) -> Double {
        var exponent: Int32 = 0
        let fraction = Glibc.frexp(x, &exponent)
        if fraction == 0.5 { return Double(exponent - 1) }
        return log(fraction) * Double(bitPattern: 0x3FF7_1547_652B_82FE) + Double(exponent)
    }

    /// log₁₀ x = ln x · (1/ln 10), the constant rounded once.
    static func log10(_ x: Double) -> Double { log(x) * Double(bitPattern: 0x3FDB_CB7B_1526_E50E) }

    /// xʸ as Go's math.Pow computes it: IEEE 754's special cases, square roots for ±½, repeated
    /// squaring for integer exponents from -128 to 127, else e^(yf·ln x) for the fraction times
    /// x^yi by squaring with the powers of two kept apart.
    static func pow(_ x: Double, _ exponent: Double) -> Double {
        var y = exponent
        func isOddInteger(_ value: Double) -> Bool {
            var whole = 0.0
            let fraction = Glibc.modf(value, &whole)
            return fraction == 0 && Swift.abs(whole) < 0x1p63 && Int64(whole) & 1 == 1
        }
        if y == 0 || x == 1 { return 1 }
        if x.isNaN || y.isNaN { return .nan }
        if x == 0 {
            if y < 0 { return isOddInteger(y) ? Double(signOf: x, magnitudeOf: .infinity) : .infinity }
            return isOddInteger(y) ? x : 0
        }
        if y.isInfinite {
            if x == -1 { return 1 }
            return (Swift.abs(x) < 1) == (y > 0) ? 0 : .infinity
        }
        if x.isInfinite {
            if x < 0 { return pow(1 / x, -y) }
            return y < 0 ? 0 : .infinity
        }
        if y == 0.5 { return x.squareRoot() }
        if y == -0.5 { return 1 / x.squareRoot() }
        if y == y.rounded(.towardZero), y >= -128, y <= 127 {
            let negative = y < 0
            if negative { y = -y }
            var n = UInt8(y)
            var r = 1.0
            while n > 1 {
                var square = x
                var c: UInt8 = 1
                while c <= n / 2 {
                    square *= square
                    c *= 2
                }
                n -= c
                r *= square
            }
            for _ in 0..<n { r *= x }
            return negative ? 1 / r : r
        }
        var whole = 0.0
        var fraction = Glibc.modf(Swift.abs(y), &whole)
        if fraction != 0 && x < 0 { return .nan }
        if whole >= 0x1p63 {
            // A huge even integer: overflow or underflow for every x but -1.
            if x == -1 { return 1 }
            return (Swift.abs(x) < 1) == (y > 0) ? 0 : .infinity
        }
        var a1 = 1.0
        var ae: Int64 = 0
        if fraction != 0 {
            if fraction > 0.5 {
                fraction -= 1
                whole += 1
            }
            a1 = exp(fraction * log(x))
        }
        var xe: Int32 = 0
        var x1 = Glibc.frexp(x, &xe)
        var e = Int64(xe)
        var i = Int64(whole)
        while i != 0 {
            if e < -(1 << 12) || (1 << 12) < e {
                // The result under- or overflows whatever bits remain.
                ae += e
                break
            }
            if i & 1 == 1 {
                a1 *= x1
                ae += e
            }
            x1 *= x1
            e <<= 1
            if x1 < 0.5 {
                x1 += x1
                e -= 1
            }
            i >>= 1
        }
        if y < 0 {
            a1 = 1 / a1
            ae = -ae
        }
        return Glibc.scalbn(a1, Int32(clamping: ae))
    }

    // MARK: Payne–Hanek

    /// The binary digits of 4/π, 64 at a time (4/π = Σ digits[i]·2⁻⁶⁴ⁱ): 1,217 bits, enough for
    /// the largest double's exponent.
    private static let fourOverPiDigits: [UInt64] = [
        0x0000_0000_0000_0001, 0x45F3_06DC_9C88_2A53, 0xF84E_AFA3_EA69_BB81, 0xB6C5_2B32_7887_2083, 0xFCA2_C757_BD77_8AC3,
        0x6E48_DC74_849B_A5C0, 0x0C92_5DD4_13A3_2439, 0xFC3B_D639_6253_4E7D, 0xD104_6BEA_5D76_8909, 0xD338_E04D_68BE_FC82,
        0x7323_AC73_06A6_73E9, 0x3908_BF17_7BF2_5076, 0x3FF1_2FFF_BC0B_301F, 0xDE5E_2316_B414_DA3E, 0xDA6C_FD9E_4F96_136E,
        0x9E8C_7ECD_3CBF_D45A, 0xEA4F_758F_D7CB_E2F6, 0x7A0E_73EF_14A5_25D4, 0xD7F6_BF62_3F1A_BA10, 0xAC06_608D_F8F6_D757,
    ]

    /// x·(4/π) for a huge `x` with 64-bit integer arithmetic over the three digits of 4/π that
    /// meet x's mantissa (K. C. Ng, "Argument reduction for huge arguments: good to the last
    /// bit", 1992): the integer part mod 8 and the fraction times π/4.
    private static func payneHanek(_ x: Double) -> (octant: UInt64, z: Double) {
        let mantissaBits: UInt64 = 52
        let bias = 1023
        var bits = x.bitPattern
        let exponent = Int((bits >> mantissaBits) & 0x7FF) - bias - Int(mantissaBits)
        bits &= (1 << mantissaBits) - 1
        bits |= 1 << mantissaBits
        // Three digits of 4/π aligned so that the product's leading digit has exponent -61.
        let digit = (exponent + 61) / 64
        let shift = UInt64((exponent + 61) % 64)
        func aligned(_ index: Int) -> UInt64 {
            let high = fourOverPiDigits[index] << shift
            return shift == 0 ? high : high | (fourOverPiDigits[index + 1] >> (64 - shift))
        }
        let z0 = aligned(digit), z1 = aligned(digit + 1), z2 = aligned(digit + 2)
        let z2High = z2.multipliedFullWidth(by: bits).high
        let (z1High, z1Low) = z1.multipliedFullWidth(by: bits)
        let z0Low = z0 &* bits
        let (low, carry) = z1Low.addingReportingOverflow(z2High)
        var high = z0Low &+ UInt64(z1High) &+ (carry ? 1 : 0)
        var octant = high >> 61
        // The fraction: normalize and rebuild a double from its bits.
        high = high << 3 | low >> 61
        let leadingZeros = UInt64(high.leadingZeroBitCount)
        let fractionExponent = UInt64(bias) - (leadingZeros + 1)
        high = (high << (leadingZeros + 1)) | (low >> (64 - (leadingZeros + 1)))
        high >>= 64 - mantissaBits
        high |= fractionExponent << mantissaBits
        var z = Double(bitPattern: high)
        if octant & 1 == 1 {
            octant = (octant + 1) & 7
            z -= 1
        }
        return (octant, z * (Double.pi / 4))
    }
}
