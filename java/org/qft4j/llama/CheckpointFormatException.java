package org.qft4j.llama;

import java.io.IOException;

/** A model or tokenizer file that cannot be read as what it claims to be; the message names the file and the problem. */
public class CheckpointFormatException extends IOException {
    public CheckpointFormatException(String message) {
        super(message);
    }
}
