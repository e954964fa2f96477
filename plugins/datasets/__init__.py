"""Built-in dataset plugins: synthetic, manifest, MELD, IEMOCAP, CMU-MOSI/MOSEI."""
