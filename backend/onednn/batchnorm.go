package onednn

import (
	"fmt"
	"math"
	"unsafe"
)

type bnKey struct {
	rows, channels int
	eps            float32
	flags          uint32
	prop           int32 // forward training, forward inference, backward or backward data
}

// bnMin is the element count below which the fallback's batch norm runs (call overhead).
var bnMin = 4096

// The data is a rows × channels matrix (oneDNN "nc": channels innermost, like NHWC viewed as
// [N·H·W, C]); statistics, scale and shift are per channel.
func (b *Backend) buildBN(k bnKey) (*plan, error) {
	l := b.lib
	data, err := l.newMD([]int64{int64(k.rows), int64(k.channels), 1, 1}, tagNHWC)
	if err != nil {
		return nil, err
	}
	vec, err := l.newMD([]int64{int64(k.channels)}, tagA)
	if err != nil {
		return nil, err
	}
	bld, err := l.newBuilder()
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			bld.abort()
		}
	}()
	scale, shift := k.flags&bnormUseScale != 0, k.flags&bnormUseShift != 0
	fwdProp := k.prop
	if k.prop == propBackward || k.prop == propBackwardData {
		fwdProp = propForwardTraining
	}
	fwd := new(opDesc)
	fwdFlags := k.flags
	if fwdProp == propForwardTraining {
		fwdFlags &^= bnormUseGlobalStats
	}
	if st := l.bnormFwdInit(fwd, fwdProp, data, k.eps, fwdFlags); st != dnnlSuccess {
		return nil, fmt.Errorf("dnnl_batch_normalization_forward_desc_init: %s", statusText(st))
	}
	fpd, err := bld.pd(fwd, 0)
	if err != nil {
		return nil, err
	}
	var args []stepArg
	pd := fpd
	switch k.prop {
	case propForwardTraining: // x, [gamma], [beta], y, mean, variance
		args = append(args, stepArg{argSrc, bld.user(data)})
		if scale {
			args = append(args, stepArg{argScale, bld.user(vec)})
		}
		if shift {
			args = append(args, stepArg{argShift, bld.user(vec)})
		}
		args = append(args, stepArg{argDst, bld.user(data)}, stepArg{argMean, bld.user(vec)}, stepArg{argVariance, bld.user(vec)})
	case propForwardInference: // x, [gamma], [beta], mean, variance, y
		args = append(args, stepArg{argSrc, bld.user(data)})
		if scale {
			args = append(args, stepArg{argScale, bld.user(vec)})
		}
		if shift {
			args = append(args, stepArg{argShift, bld.user(vec)})
		}
		args = append(args, stepArg{argMean, bld.user(vec)}, stepArg{argVariance, bld.user(vec)}, stepArg{argDst, bld.user(data)})
	default: // x, dy, [gamma], [beta], mean, variance, dx, [dgamma], [dbeta]
		bwd := new(opDesc)
		if st := l.bnormBwdInit(bwd, k.prop, data, data, k.eps, k.flags); st != dnnlSuccess {
			return nil, fmt.Errorf("dnnl_batch_normalization_backward_desc_init: %s", statusText(st))
		}
		if pd, err = bld.pd(bwd, fpd); err != nil {
			return nil, err
		}
		args = append(args, stepArg{argSrc, bld.user(data)}, stepArg{argDiffDst, bld.user(data)})
		if scale {
			args = append(args, stepArg{argScale, bld.user(vec)})
		}
		if shift { // unused by the maths, but oneDNN 2.6 insists on it
			args = append(args, stepArg{argShift, bld.user(vec)})
		}
		args = append(args, stepArg{argMean, bld.user(vec)}, stepArg{argVariance, bld.user(vec)}, stepArg{argDiffSrc, bld.user(data)})
		if k.prop == propBackward {
			if scale {
				args = append(args, stepArg{argDiffScale, bld.user(vec)})
			}
			if shift {
				args = append(args, stepArg{argDiffShift, bld.user(vec)})
			}
		}
	}
	if err := bld.step(pd, args...); err != nil {
		return nil, err
	}
	done = true
	return bld.finish(), nil
}

// bufs collects a call's buffers in declaration order without allocating.
type bufs struct {
	p [10]unsafe.Pointer
	n int
}

func (b *bufs) add(s []float32) { b.p[b.n] = f32p(s); b.n++ }

func (b *Backend) runBN(k bnKey, bs *bufs) bool {
	return runPlan(b, &b.bnFwd, k, (*Backend).buildBN, bs.p[:bs.n]...)
}

func bnFlags(gamma, beta []float32) uint32 {
	var f uint32
	if gamma != nil {
		f |= bnormUseScale
	}
	if beta != nil {
		f |= bnormUseShift
	}
	return f
}

// BatchNormForwardTraining returns invStd, where oneDNN produces the variance; the conversion
// is one pass over the channels.
func (b *Backend) BatchNormForwardTraining(rows, channels int, eps float32, x, gamma, beta, y, mean, invStd []float32) {
	if rows > 0 && channels > 0 && rows*channels >= bnMin {
		k := bnKey{rows: rows, channels: channels, eps: eps, flags: bnFlags(gamma, beta), prop: propForwardTraining}
		vp := f32Pool.Get(channels)
		variance := *vp
		var bs bufs
		bs.add(x)
		if gamma != nil {
			bs.add(gamma)
		}
		if beta != nil {
			bs.add(beta)
		}
		bs.add(y)
		bs.add(mean)
		bs.add(variance)
		ok := b.runBN(k, &bs)
		if ok {
			for c, v := range variance {
				invStd[c] = float32(1 / math.Sqrt(float64(v)+float64(eps)))
			}
		}
		f32Pool.Put(vp)
		if ok {
			return
		}
	}
	b.Backend.BatchNormForwardTraining(rows, channels, eps, x, gamma, beta, y, mean, invStd)
}

func (b *Backend) BatchNormForwardInference(rows, channels int, eps float32, x, gamma, beta, movingMean, movingVar, y []float32) {
	if rows > 0 && channels > 0 && rows*channels >= bnMin {
		k := bnKey{rows: rows, channels: channels, eps: eps, flags: bnFlags(gamma, beta) | bnormUseGlobalStats, prop: propForwardInference}
		var bs bufs
		bs.add(x)
		if gamma != nil {
			bs.add(gamma)
		}
		if beta != nil {
			bs.add(beta)
		}
		bs.add(movingMean)
		bs.add(movingVar)
		bs.add(y)
		if b.runBN(k, &bs) {
			return
		}
	}
	b.Backend.BatchNormForwardInference(rows, channels, eps, x, gamma, beta, movingMean, movingVar, y)
}

// BatchNormBackward gets invStd but not eps, while oneDNN wants the variance and eps. It is
// given variance' = 1/invStd² with eps 0, which reproduces invStd exactly up to rounding.
func (b *Backend) BatchNormBackward(rows, channels int, x, dy, gamma, mean, invStd, dx, dgamma, dbeta []float32) {
	if rows > 0 && channels > 0 && rows*channels >= bnMin {
		var flags uint32
		if gamma != nil || dgamma != nil {
			flags |= bnormUseScale
		}
		if dbeta != nil {
			flags |= bnormUseShift
		}
		// oneDNN 2.6 implements backward-data only without a scale, so a scaled layer
		// always takes the full backward and discards the parameter gradients it did not
		// want.
		prop := int32(propBackwardData)
		if flags != 0 {
			prop = propBackward
		}
		k := bnKey{rows: rows, channels: channels, flags: flags, prop: prop}
		vp := f32Pool.Get(channels)
		variance := *vp
		for c, s := range invStd[:channels] {
			variance[c] = float32(1 / (float64(s) * float64(s)))
		}
		var tmp [3]*[]float32 // a unit scale, an unused shift, an unwanted dgamma
		nTmp := 0
		scratch := func() []float32 {
			p := f32Pool.Get(channels)
			tmp[nTmp] = p
			nTmp++
			return *p
		}
		var bs bufs
		bs.add(x)
		bs.add(dy)
		if flags&bnormUseScale != 0 {
			g := gamma
			if g == nil { // no scale in the layer, but its gradient is wanted: scale by 1
				g = scratch()
				for c := range g {
					g[c] = 1
				}
			}
			bs.add(g)
		}
		if flags&bnormUseShift != 0 {
			bs.add(scratch())
		}
		bs.add(mean)
		bs.add(variance)
		bs.add(dx)
		if prop == propBackward {
			if flags&bnormUseScale != 0 {
				if dgamma != nil {
					bs.add(dgamma)
				} else {
					bs.add(scratch())
				}
			}
			if flags&bnormUseShift != 0 {
				bs.add(dbeta)
			}
		}
		ok := runPlan(b, &b.bnBwd, k, (*Backend).buildBN, bs.p[:bs.n]...)
		f32Pool.Put(vp)
		for _, p := range tmp[:nTmp] {
			f32Pool.Put(p)
		}
		if ok {
			return
		}
	}
	b.Backend.BatchNormBackward(rows, channels, x, dy, gamma, mean, invStd, dx, dgamma, dbeta)
}
