// A check of `--box ffhq` (engine/landmarks.c fs_lm_ffhq_box) with dlib
// itself (Debian libdlib-dev; a check program, the library never links
// dlib). For each PNG given: dlib's HOG detector finds the face and the
// 68-point model its landmarks; the image is aligned FFHQ-style from those
// landmarks (the oriented crop rule of NVlabs' ffhq-dataset alignment,
// resampled bilinearly to N x N, without its blur and padding steps); then,
// on the aligned crop, dlib's detector box is compared with the FFHQ box,
// and the landmarks found in each box are compared by the filter's score.
//
//   g++ -O2 -o check_ffhq_box bench/check_ffhq_box.cpp $(pkg-config --cflags --libs dlib-1)
//   ./check_ffhq_box MODEL N IMAGE.png...
#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>

#include <cmath>
#include <cstdio>
#include <vector>

typedef dlib::vector<double, 2> v2;

static v2 part(const dlib::full_object_detection &d, int i)
{
    return v2(d.part(i).x(), d.part(i).y());
}

static v2 mean(const dlib::full_object_detection &d, int a, int b)
{
    v2 s(0, 0);
    for (int i = a; i < b; i++)
        s += part(d, i);
    return s / (b - a);
}

static double nme(const dlib::full_object_detection &a, const dlib::full_object_detection &b)
{
    double s = 0;
    for (int i = 0; i < 68; i++)
        s += (part(a, i) - part(b, i)).length_squared();
    return std::sqrt(s / 68) / (part(a, 45) - part(a, 36)).length();
}

// The box fs_lm_ffhq_box gives for an n x n crop.
static dlib::rectangle ffhq_box(int n)
{
    auto r = [](double v) { return (long)std::floor(v + 0.5); };
    return dlib::rectangle(r(0.19584 * n), r(0.28173 * n), r(0.80414 * n), r(0.89003 * n));
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s MODEL N IMAGE.png...\n", argv[0]);
        return 2;
    }
    dlib::shape_predictor sp;
    dlib::deserialize(argv[1]) >> sp;
    const int n = std::atoi(argv[2]);
    dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
    std::printf("image: detector box on the aligned %dx%d crop vs ffhq box %ld,%ld,%ld,%ld; "
                "nme(landmarks in detector box, in ffhq box)\n",
                n, n, ffhq_box(n).left(), ffhq_box(n).top(), ffhq_box(n).right(),
                ffhq_box(n).bottom());
    for (int k = 3; k < argc; k++) {
        dlib::array2d<dlib::rgb_pixel> img;
        dlib::load_png(img, argv[k]);
        dlib::pyramid_up(img); // the detector's smallest face is 80 px
        std::vector<dlib::rectangle> faces = det(img);
        if (faces.empty()) {
            std::printf("%s: no face found\n", argv[k]);
            continue;
        }
        dlib::full_object_detection lm = sp(img, faces[0]);
        // the FFHQ oriented crop
        v2 el = mean(lm, 36, 42), er = mean(lm, 42, 48);
        v2 eye_avg = (el + er) * 0.5, eye_to_eye = er - el;
        v2 mouth_avg = (part(lm, 48) + part(lm, 54)) * 0.5, eye_to_mouth = mouth_avg - eye_avg;
        v2 x(eye_to_eye.x() + eye_to_mouth.y(), eye_to_eye.y() - eye_to_mouth.x());
        x = x / x.length() *
            std::max(eye_to_eye.length() * 2.0, eye_to_mouth.length() * 1.8);
        v2 y(-x.y(), x.x());
        v2 c = eye_avg + eye_to_mouth * 0.1, q0 = c - x - y;
        dlib::array2d<dlib::rgb_pixel> out(n, n);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                // pixel centres: output (i + 0.5) / n along the quad, input centres at integers
                v2 s = q0 + x * (2.0 * (i + 0.5) / n) + y * (2.0 * (j + 0.5) / n) - v2(0.5, 0.5);
                long x0 = (long)std::floor(s.x()), y0 = (long)std::floor(s.y());
                double fx = s.x() - x0, fy = s.y() - y0, acc[3] = {0, 0, 0};
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        long xx = std::min<long>(std::max<long>(x0 + dx, 0), img.nc() - 1);
                        long yy = std::min<long>(std::max<long>(y0 + dy, 0), img.nr() - 1);
                        double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
                        acc[0] += w * img[yy][xx].red;
                        acc[1] += w * img[yy][xx].green;
                        acc[2] += w * img[yy][xx].blue;
                    }
                out[j][i] = dlib::rgb_pixel((unsigned char)std::lround(acc[0]),
                                            (unsigned char)std::lround(acc[1]),
                                            (unsigned char)std::lround(acc[2]));
            }
        std::vector<dlib::rectangle> af = det(out);
        if (af.empty()) {
            std::printf("%s: no face found on the aligned crop\n", argv[k]);
            continue;
        }
        dlib::rectangle db = af[0], fb = ffhq_box(n);
        double score = nme(sp(out, db), sp(out, fb));
        std::printf("%s: detector %ld,%ld,%ld,%ld (width %lu, ffhq %lu); nme %.4f\n", argv[k],
                    db.left(), db.top(), db.right(), db.bottom(), db.width(), fb.width(), score);
    }
    return 0;
}
