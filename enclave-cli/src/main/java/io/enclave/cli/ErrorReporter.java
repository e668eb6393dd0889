package io.enclave.cli;

import java.io.PrintStream;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * Turns failures into {@code error: <message>} on stderr, one indented line per field error, and the
 * exit code: 1 for API and connection errors, 2 for usage errors, 3 for a failed operation.
 */
final class ErrorReporter implements IExecutionExceptionHandler, IParameterExceptionHandler {
    private final PrintStream err;

    ErrorReporter(PrintStream err) {
        this.err = err;
    }

    int report(CliException e) {
        err.println("error: " + e.getMessage());
        e.details().forEach(err::println);
        err.flush();
        return e.exitCode();
    }

    @Override
    public int handleExecutionException(Exception e, CommandLine command, ParseResult parsed) {
        if (e instanceof CliException cli) return report(cli);
        err.println("error: " + e);
        err.flush();
        return CliException.FAILURE;
    }

    @Override
    public int handleParseException(ParameterException e, String[] args) {
        CommandLine command = e.getCommandLine();
        err.println("error: " + e.getMessage());
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        if (e instanceof CommandLine.UnmatchedArgumentException && command.getCommandSpec().userObject()
                instanceof VmCommands.Exec) {
            err.println("To pass options to the guest command, put -- before the guest command: "
                    + "enclave vm exec ID -- CMD ARGS...");
        }
        err.println("Try '" + command.getCommandSpec().qualifiedName() + " --help' for usage.");
        err.flush();
        return CliException.USAGE;
    }
}
