//go:build cgo && !nocamera

package qrtest

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"github.com/skip2/go-qrcode"
	"gocv.io/x/gocv"

	"github.com/intercomd/intercomd/reader/qr"
)

// Code is one QR code in a scene.
type Code struct {
	Text        string
	Center      image.Point // in frame pixels
	Size        int         // side of the code without quiet zone, in pixels
	Angle       float64     // rotation in degrees
	Perspective float64     // corner jitter as a fraction of Size (0..0.2)
	Inverted    bool        // light modules on a dark screen (dark mode)
	Quiet       int         // quiet zone in modules; 0 means 4
}

// Scene is one synthetic frame.
type Scene struct {
	Width, Height int
	Seed          uint64
	Codes         []Code
	Contrast      float64 // multiplies the image around mid-grey; 1 is unchanged
	Brightness    float64 // added after contrast
	Glare         float64 // 0..1 strength of a bright blob over the frame
	Blur          float64 // Gaussian sigma in pixels
	Noise         float64 // sensor noise sigma in grey levels
}

// Random draws a scene of w x h holding one code per text (none for a
// negative frame), with faults of every kind in moderate measure.
func Random(rng *rand.Rand, w, h int, texts ...string) Scene {
	s := Scene{
		Width: w, Height: h, Seed: rng.Uint64(),
		Contrast:   0.45 + 0.6*rng.Float64(),
		Brightness: -50 + 100*rng.Float64(),
		Blur:       1.6 * rng.Float64(),
		Noise:      2 + 6*rng.Float64(),
	}
	if rng.IntN(3) == 0 {
		s.Glare = 0.3 + 0.5*rng.Float64()
	}
	for i, t := range texts {
		size := 110 + rng.IntN(min(w, h)/2)
		if len(texts) > 1 {
			size = 110 + rng.IntN(min(w/len(texts), h)/3)
		}
		half := int(float64(size)*0.85) + 10
		lo, hi := half, w-half
		if len(texts) > 1 { // side by side
			lo, hi = i*w/len(texts)+half, (i+1)*w/len(texts)-half
		}
		cx := lo + rng.IntN(max(1, hi-lo))
		cy := half + rng.IntN(max(1, h-2*half))
		s.Codes = append(s.Codes, Code{
			Text: t, Center: image.Pt(cx, cy), Size: size,
			Angle: 360 * rng.Float64(), Perspective: 0.12 * rng.Float64(),
			Inverted: rng.IntN(10) == 0,
			Quiet:    2 + rng.IntN(3),
		})
	}
	return s
}

// Render draws the scene as a grayscale frame.
func Render(s Scene) (qr.Gray, error) {
	m, err := RenderMat(s)
	if err != nil {
		return qr.Gray{}, err
	}
	defer m.Close()
	return qr.Gray{Pix: m.ToBytes(), Width: m.Cols(), Height: m.Rows(), Stride: m.Cols()}, nil
}

// RenderMat draws the scene into a new 8-bit Mat, which the caller closes.
func RenderMat(s Scene) (gocv.Mat, error) {
	rng := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))
	img := background(rng, s.Width, s.Height)
	for _, c := range s.Codes {
		if err := place(&img, c, rng); err != nil {
			img.Close()
			return gocv.Mat{}, err
		}
	}
	faults(&img, s, rng)
	return img, nil
}

func gray(v int) color.RGBA { return color.RGBA{uint8(v), uint8(v), uint8(v), 255} }

// background is smooth lighting plus texture, shapes, lines and text.
func background(rng *rand.Rand, w, h int) gocv.Mat {
	img := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8U)
	low := gocv.NewMatWithSize(6, 10, gocv.MatTypeCV8U)
	defer low.Close()
	gocv.RandU(&low, gocv.NewScalar(40, 0, 0, 0), gocv.NewScalar(210, 0, 0, 0))
	gocv.Resize(low, &img, image.Pt(w, h), 0, 0, gocv.InterpolationCubic)
	tex := gocv.NewMatWithSize(h/8, w/8, gocv.MatTypeCV8U)
	defer tex.Close()
	gocv.RandU(&tex, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(60, 0, 0, 0))
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(tex, &big, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
	gocv.AddWeighted(img, 1, big, 1, -30, &img)
	for range 12 + rng.IntN(20) {
		p := image.Pt(rng.IntN(w), rng.IntN(h))
		q := image.Pt(p.X+rng.IntN(300)-150, p.Y+rng.IntN(300)-150)
		c := gray(rng.IntN(256))
		switch rng.IntN(5) {
		case 0:
			gocv.Rectangle(&img, image.Rectangle{Min: p, Max: q}.Canon(), c, -1)
		case 1:
			gocv.Rectangle(&img, image.Rectangle{Min: p, Max: q}.Canon(), c, 1+rng.IntN(8))
		case 2:
			gocv.Line(&img, p, q, c, 1+rng.IntN(6))
		case 3:
			gocv.Circle(&img, p, 5+rng.IntN(60), c, -1+rng.IntN(2)*(2+rng.IntN(6)))
		default:
			gocv.PutText(&img, "DOOR 12 VISITORS", p, gocv.FontHersheySimplex, 0.5+2*rng.Float64(), c, 1+rng.IntN(3))
		}
	}
	return img
}

// place draws a code on a screen (quiet zone, then a dark bezel) and warps it
// into the frame.
func place(img *gocv.Mat, c Code, rng *rand.Rand) error {
	q, err := qrcode.New(c.Text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("qrtest: encode: %w", err)
	}
	q.DisableBorder = true
	bits := q.Bitmap()
	n := len(bits)
	quiet := c.Quiet
	if quiet == 0 {
		quiet = 4
	}
	const px = 10 // pixels per module before warping
	bezel := 3
	side := (n + 2*quiet + 2*bezel) * px
	fg, bg := 0, 235+rng.IntN(20)
	if c.Inverted {
		fg, bg = 220+rng.IntN(35), 25
	}
	code := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(bg), 0, 0, 0), side, side, gocv.MatTypeCV8U)
	defer code.Close()
	gocv.Rectangle(&code, image.Rect(0, 0, side, side), gray(15), bezel*px)
	o := (quiet + bezel) * px
	for y, row := range bits {
		for x, on := range row {
			if on {
				gocv.Rectangle(&code, image.Rect(o+x*px, o+y*px, o+(x+1)*px, o+(y+1)*px), gray(fg), -1)
			}
		}
	}
	// Corners of the whole screen in the frame: the code's Size covers n
	// modules, so the screen is larger by the same scale.
	scale := float64(c.Size) / float64(n*px)
	half := float64(side) * scale / 2
	th := c.Angle * math.Pi / 180
	var dst []gocv.Point2f
	for _, k := range [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
		x := k[0]*half + (rng.Float64()*2-1)*c.Perspective*float64(c.Size)
		y := k[1]*half + (rng.Float64()*2-1)*c.Perspective*float64(c.Size)
		dst = append(dst, gocv.Point2f{
			X: float32(float64(c.Center.X) + x*math.Cos(th) - y*math.Sin(th)),
			Y: float32(float64(c.Center.Y) + x*math.Sin(th) + y*math.Cos(th)),
		})
	}
	srcV := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{{X: 0, Y: 0}, {X: float32(side), Y: 0}, {X: float32(side), Y: float32(side)}, {X: 0, Y: float32(side)}})
	defer srcV.Close()
	dstV := gocv.NewPoint2fVectorFromPoints(dst)
	defer dstV.Close()
	t := gocv.GetPerspectiveTransform2f(srcV, dstV)
	defer t.Close()
	sz := image.Pt(img.Cols(), img.Rows())
	warped := gocv.NewMat()
	defer warped.Close()
	gocv.WarpPerspectiveWithParams(code, &warped, t, sz, gocv.InterpolationArea, gocv.BorderConstant, color.RGBA{})
	ones := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), side, side, gocv.MatTypeCV8U)
	defer ones.Close()
	mask := gocv.NewMat()
	defer mask.Close()
	gocv.WarpPerspectiveWithParams(ones, &mask, t, sz, gocv.InterpolationNearestNeighbor, gocv.BorderConstant, color.RGBA{})
	warped.CopyToWithMask(img, mask)
	return nil
}

// faults applies the camera's contrast, glare, blur and noise.
func faults(img *gocv.Mat, s Scene, rng *rand.Rand) {
	f := gocv.NewMat()
	defer f.Close()
	c := s.Contrast
	if c == 0 {
		c = 1
	}
	img.ConvertToWithParams(&f, gocv.MatTypeCV32F, float32(c), float32(128*(1-c)+s.Brightness))
	if s.Glare > 0 {
		g := gocv.NewMatWithSize(img.Rows(), img.Cols(), gocv.MatTypeCV32F)
		defer g.Close()
		g.SetTo(gocv.NewScalar(0, 0, 0, 0))
		r := min(img.Rows(), img.Cols()) / (3 + rng.IntN(4))
		gocv.Circle(&g, image.Pt(rng.IntN(img.Cols()), rng.IntN(img.Rows())), r, color.RGBA{255, 255, 255, 255}, -1)
		k := r | 1
		gocv.GaussianBlur(g, &g, image.Pt(k, k), float64(r)/2, float64(r)/2, gocv.BorderDefault)
		gocv.AddWeighted(f, 1, g, s.Glare*1.5, 0, &f)
	}
	if s.Blur > 0.3 {
		gocv.GaussianBlur(f, &f, image.Pt(0, 0), s.Blur, s.Blur, gocv.BorderDefault)
	}
	if s.Noise > 0 {
		n := gocv.NewMatWithSize(img.Rows(), img.Cols(), gocv.MatTypeCV32F)
		defer n.Close()
		gocv.SetRNGSeed(int(s.Seed & 0x7fffffff))
		gocv.RandN(&n, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(s.Noise, 0, 0, 0))
		gocv.Add(f, n, &f)
	}
	f.ConvertTo(img, gocv.MatTypeCV8U)
}

// WriteJPEG writes g as a JPEG of the given quality (1-100).
func WriteJPEG(path string, g qr.Gray, quality int) error {
	m, err := gocv.NewMatFromBytes(g.Height, g.Stride, gocv.MatTypeCV8U, g.Pix[:g.Height*g.Stride])
	if err != nil {
		return fmt.Errorf("qrtest: %w", err)
	}
	defer m.Close()
	r := m.Region(image.Rect(0, 0, g.Width, g.Height))
	defer r.Close()
	if !gocv.IMWriteWithParams(path, r, []int{gocv.IMWriteJpegQuality, quality}) {
		return fmt.Errorf("qrtest: write %s failed", path)
	}
	return nil
}

// WriteVideo writes frames as an MJPEG AVI at fps, the format cameras
// stream and FFmpeg reads back.
func WriteVideo(path string, frames []qr.Gray, fps float64) error {
	if len(frames) == 0 {
		return fmt.Errorf("qrtest: write %s: no frames", path)
	}
	w, h := frames[0].Width, frames[0].Height
	vw, err := gocv.VideoWriterFile(path, "MJPG", fps, w, h, false)
	if err != nil {
		return fmt.Errorf("qrtest: open %s: %w", path, err)
	}
	defer vw.Close()
	for i, g := range frames {
		if g.Width != w || g.Height != h {
			return fmt.Errorf("qrtest: frame %d is %dx%d, want %dx%d", i, g.Width, g.Height, w, h)
		}
		m, err := gocv.NewMatFromBytes(g.Height, g.Width, gocv.MatTypeCV8U, g.Pix[:g.Height*g.Width])
		if err != nil {
			return fmt.Errorf("qrtest: %w", err)
		}
		err = vw.Write(m)
		m.Close()
		if err != nil {
			return fmt.Errorf("qrtest: write %s: %w", path, err)
		}
	}
	return nil
}
