// `granitec inspect` alone, linked against the sanitizer-instrumented frontend for the hostile-input tests.
#include "Inspect.h"

#include <string>
#include <vector>

int main(int argc, char **argv) { return granite::driver::runInspect(std::vector<std::string>(argv + 1, argv + argc)); }
