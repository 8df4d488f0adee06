namespace Appliance.Core.Pipeline;

/// <summary>
/// A record cannot be processed because of its data (not because of a bug): it becomes a dead letter whose
/// reason carries <see cref="ErrorClass"/> and the message.
/// </summary>
public sealed class PipelineDataException : Exception
{
    /// <summary>The value is not valid JSON.</summary>
    public const string InvalidJson = "InvalidJson";

    /// <summary>The value is JSON but not an object.</summary>
    public const string NotAnObject = "NotAnObject";

    /// <summary>The record has no value (a tombstone) but a step needs one.</summary>
    public const string MissingValue = "MissingValue";

    /// <summary>A field a step needs is missing.</summary>
    public const string MissingField = "MissingField";

    /// <summary>A field has the wrong JSON type for the step.</summary>
    public const string WrongType = "WrongType";

    /// <summary>Creates the exception.</summary>
    /// <param name="errorClass">A short stable class, e.g. <see cref="MissingField"/>; used in counters and headers.</param>
    /// <param name="message">What is wrong, naming the field.</param>
    /// <param name="innerException">The cause, if any.</param>
    public PipelineDataException(string errorClass, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentException.ThrowIfNullOrEmpty(errorClass);
        ErrorClass = errorClass;
    }

    /// <summary>The short, stable error class.</summary>
    public string ErrorClass { get; }
}
