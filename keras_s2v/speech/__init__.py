"""Speech made on this machine, with the mouth opening that goes with each frame: `formant` (the built-in
formant synthesizer, the synthetic corpus's voice) and `espeak` (espeak-ng's voices from the
`espeakng-loader` wheel). Nothing is downloaded."""
