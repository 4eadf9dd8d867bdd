// dlib's own shape_predictor on the cases bench_landmarks.c runs, for the
// comparison in bench/run_landmarks_bench.sh (benchmark only: the library
// never links dlib). Built against Debian's libdlib-dev:
//   g++ -O3 bench/bench_landmarks_dlib.cpp $(pkg-config --cflags --libs dlib-1)
//
// Usage: bench_landmarks_dlib MODEL CASES THREADS ROUNDS POINTS_OUT
//   CASES: one face per line, "PNG LEFT TOP RIGHT BOTTOM".
// Times the model load, decodes every PNG once (array2d<rgb_pixel>), writes
// each face's integer parts to POINTS_OUT (one line per face), then times
// ROUNDS rounds over all faces with 1 thread and with THREADS threads
// (faces claimed one at a time from an atomic counter), and prints
//   load_s S
//   threads T faces F rounds R median_faces_per_s X min Y max Z
#include <dlib/image_io.h>
#include <dlib/image_processing.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

static double now_s()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct face {
    int image;
    dlib::rectangle box;
};

int main(int argc, char **argv)
{
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s MODEL CASES THREADS ROUNDS POINTS_OUT\n", argv[0]);
        return 2;
    }
    const int threads = std::atoi(argv[3]), rounds = std::atoi(argv[4]);
    double t0 = now_s();
    dlib::shape_predictor sp;
    dlib::deserialize(argv[1]) >> sp;
    std::printf("load_s %.4f\n", now_s() - t0);

    std::vector<dlib::array2d<dlib::rgb_pixel>> images;
    std::map<std::string, int> index;
    std::vector<face> faces;
    std::ifstream in(argv[2]);
    std::string path;
    long l, t, r, b;
    while (in >> path >> l >> t >> r >> b) {
        auto it = index.find(path);
        if (it == index.end()) {
            images.emplace_back();
            dlib::load_png(images.back(), path);
            it = index.emplace(path, (int)images.size() - 1).first;
        }
        faces.push_back({it->second, dlib::rectangle(l, t, r, b)});
    }
    const size_t n = faces.size();

    FILE *pts = std::fopen(argv[5], "w");
    if (!pts)
        return 1;
    for (const face &f : faces) {
        dlib::full_object_detection d = sp(images[f.image], f.box);
        for (unsigned long i = 0; i < d.num_parts(); i++)
            std::fprintf(pts, "%s%ld %ld", i ? " " : "", d.part(i).x(), d.part(i).y());
        std::fprintf(pts, "\n");
    }
    std::fclose(pts);

    const int counts[2] = {1, threads};
    for (int k = 0; k < (threads > 1 ? 2 : 1); k++) {
        int T = counts[k];
        std::vector<double> rate;
        for (int round = 0; round < rounds; round++) {
            std::atomic<size_t> next(0);
            std::atomic<long> sink(0);
            auto work = [&]() {
                long s = 0;
                for (size_t i; (i = next.fetch_add(1)) < n;) {
                    dlib::full_object_detection d = sp(images[faces[i].image], faces[i].box);
                    s += d.part(0).x();
                }
                sink += s;
            };
            double start = now_s();
            std::vector<std::thread> pool;
            for (int w = 1; w < T; w++)
                pool.emplace_back(work);
            work();
            for (auto &th : pool)
                th.join();
            rate.push_back((double)n / (now_s() - start));
        }
        std::sort(rate.begin(), rate.end());
        double med = rate.size() % 2 ? rate[rate.size() / 2]
                                     : 0.5 * (rate[rate.size() / 2 - 1] + rate[rate.size() / 2]);
        std::printf("threads %d faces %zu rounds %d median_faces_per_s %.1f min %.1f max %.1f\n",
                    T, n, rounds, med, rate.front(), rate.back());
    }
    return 0;
}
