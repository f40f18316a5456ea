import sys

from keras_s2v.cli import main

sys.exit(main())
