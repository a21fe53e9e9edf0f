/** Types of the forwarder, for the TypeScript tests that import it. Not needed in the Lambda. */

/** What Alexa gets back: Hearth's answer as it came, or an ErrorResponse built by the forwarder. */
export interface AlexaAnswer {
  event: Record<string, unknown>;
  context?: Record<string, unknown>;
}

/** The part of the Lambda context the forwarder reads. */
export interface LambdaContext {
  getRemainingTimeInMillis?(): number;
}

export declare const handler: (event: unknown, context?: LambdaContext) => Promise<AlexaAnswer>;
