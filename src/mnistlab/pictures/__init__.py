"""Real pictures to MNIST's format: one grey picture decoded safely from any file or array (images), the
recipe that brings it to a centred 28 x 28 digit (preprocess), and MNIST digits made into other writers'
low-resolution scans (scans), which training adds so that a model reads them.

    digit = mnistlab.preprocess("photo_of_a_7.jpg")      # (28, 28) uint8, white ink on black, centred
"""
