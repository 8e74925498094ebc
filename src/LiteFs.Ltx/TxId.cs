namespace LiteFs.Ltx;

/// <summary>placeholder</summary>
public readonly record struct TxId(ulong Value);
