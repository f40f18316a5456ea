from keras_s2v.lab.benchmarks.runner import main

main()
