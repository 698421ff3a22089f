package org.qft4j.train;

/** Text to token ids: the tokenizer as the data pipeline sees it (the LLaMA engine's tokenizer implements it). */
public interface TokenEncoder {
    /** The ids of {@code text}, without BOS or EOS. */
    int[] encode(String text);

    /** Beginning of sequence: starts every document and example (llama2.c: 1). */
    default int bos() { return 1; }

    /** End of sequence: ends every JSONL response, so the model learns to stop (llama2.c: 2). */
    default int eos() { return 2; }
}
