global using FileAttributes = LiteFs.Fuse.FileAttributes;
