"""Built-in modality plugins: text, speech, face (EEG lives in examples/sseft-eeg as a separate package)."""
